package gostd

// knownDiffs: tests that pass natively and not converted, keyed
// "package.TestName", each with its root cause (the system call or file
// involved) and where it is tracked. docs/compatibility.md ("Known gaps")
// has the same list with the plans. Keep it short: a new entry needs a
// root cause, not a symptom.
var knownDiffs = map[string]string{}
