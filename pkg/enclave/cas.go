package enclave

import "regexp"

// The CAS records of config.bin (tags 22-24, docs/enclave.md): the enclave
// obtains its secrets from this CAS, whose identity it pins, under this
// policy. The runtime/lib/netaddr.c and econfig.c parsers apply the same rules
// (testdata/enclave/casaddr.txt holds the shared address vectors).

// MaxCASAddress bounds the CAS address ("host:port").
const MaxCASAddress = MaxHostPort

// policyNameRE is the policy name rule of pkg/policy (docs/cas.md).
var policyNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// HasCAS reports whether the config names a CAS.
func (c *Config) HasCAS() bool { return c.CASAddress != "" }

// CheckCASAddress checks a CAS address with the rules of CheckHostPort.
func CheckCASAddress(addr string) error { return CheckHostPort("cas address", addr) }

// CheckPolicyName checks a CAS policy name (docs/cas.md).
func CheckPolicyName(name string) error {
	if !policyNameRE.MatchString(name) {
		return cfgErr("cas policy", "%q: want 1-63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit", name)
	}
	return nil
}

func (c *Config) validateCAS() error {
	if !c.HasCAS() {
		if c.CASPolicy != "" || c.CASID != [32]byte{} {
			return cfgErr("cas address", "a CAS ID or policy without a CAS address")
		}
		return nil
	}
	if err := CheckCASAddress(c.CASAddress); err != nil {
		return err
	}
	if c.CASID == [32]byte{} {
		return cfgErr("cas id", "zero: want the SHA-256 of the CAS's public key")
	}
	return CheckPolicyName(c.CASPolicy)
}
