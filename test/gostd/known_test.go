package gostd

// knownDiffs: tests that pass natively and not converted, keyed
// "package.TestName", each with its root cause (the system call or file
// involved) and where it is tracked. docs/compatibility.md ("Known gaps")
// has the same list with the plans. Keep it short: a new entry needs a
// root cause, not a symptom.
var knownDiffs = map[string]string{
	// clone(CLONE_NEWTIME) fails with ENOSYS, so the test skips: the
	// runtime refuses clone with namespace flags (an enclave process
	// cannot move itself or a child into new host namespaces).
	"syscall.TestCloneTimeNamespace": "clone with namespace flags refused (ENOSYS): no host namespaces from inside the enclave",
	// mount(2) of a tmpfs on a directory made in the enclave's /tmp: the
	// host kernel cannot mount on a directory that exists only in the
	// enclave (ENOENT). Mounts are the container engine's job.
	"os/exec.TestFindExecutableVsNoexec": "mount(2) on a directory of the enclave's file system (ENOENT on the host)",
}
