// Package etcdtest starts a single-member etcd for tests: the etcd binary
// of the Debian package etcd-server (scripts/setup.sh installs it), on
// free ports of 127.0.0.1, with a temporary data directory. Without the
// binary, tests skip with the reason.
package etcdtest
