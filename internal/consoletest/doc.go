// Package consoletest writes console-shield logs (docs/console.md, version
// 2) in Go, for tests that need a log bound to an enclave they made: the
// runtime's C writer (runtime/lib/console.c) is the real one, and
// pkg/console's tests check that this writer produces the same bytes as the
// C writer's vectors in testdata/console.
package consoletest
