package enclave

import "strings"

// Variables that choose which code runs: a host that may set one of them
// could run code of its choosing inside the enclave (a library, a module
// path, a shell startup file). Config.Validate refuses them in HostEnv, and
// runtime/lib/econfig.c refuses a config that lists them (docs/enclave.md).
var (
	codeVarPrefixes = []string{"LD_", "BASH_FUNC_", "LUA_PATH", "LUA_CPATH", "LUA_INIT"}
	codeVars        = map[string]string{
		"PATH":              "the program search path",
		"GCONV_PATH":        "glibc's iconv modules",
		"PYTHONPATH":        "Python's module path",
		"PYTHONHOME":        "Python's library location",
		"PYTHONSTARTUP":     "a Python startup file",
		"PYTHONUSERBASE":    "Python's user site directory",
		"PYTHONEXECUTABLE":  "the Python executable",
		"PYTHONPLATLIBDIR":  "Python's library directory",
		"PYTHONBREAKPOINT":  "a Python hook",
		"PERL5LIB":          "Perl's module path",
		"PERLLIB":           "Perl's module path",
		"PERL5OPT":          "Perl options (-M loads modules)",
		"PERL5DB":           "the Perl debugger",
		"RUBYLIB":           "Ruby's library path",
		"RUBYOPT":           "Ruby options (-r loads files)",
		"NODE_OPTIONS":      "Node.js options (--require loads files)",
		"NODE_PATH":         "Node.js's module path",
		"JAVA_TOOL_OPTIONS": "JVM options (-javaagent loads code)",
		"_JAVA_OPTIONS":     "JVM options",
		"JDK_JAVA_OPTIONS":  "JVM options",
		"CLASSPATH":         "the Java class path",
		"BASH_ENV":          "a bash startup file",
		"ENV":               "a POSIX shell startup file",
		"SHELLOPTS":         "bash options",
		"BASHOPTS":          "bash options",
		"PS4":               "bash trace prompt (expanded as code)",
		"PROMPT_COMMAND":    "a bash command",
		"PHPRC":             "php.ini location",
		"PHP_INI_SCAN_DIR":  "php.ini directories",
		"TCLLIBPATH":        "Tcl's package path",
	}
)

// CodeVariable reports whether the host must not set the environment
// variable name because it chooses code to run, and what it chooses.
func CodeVariable(name string) (what string, ok bool) {
	if w, ok := codeVars[name]; ok {
		return w, true
	}
	for _, p := range codeVarPrefixes {
		if strings.HasPrefix(name, p) {
			switch p {
			case "LD_":
				return "the dynamic loader's libraries and search paths", true
			case "BASH_FUNC_":
				return "an exported bash function", true
			default:
				return "Lua's module path or init code", true
			}
		}
	}
	return "", false
}
