// Package console decodes the console-shield logs that the scone-run runtime
// writes instead of plaintext stdout/stderr when an image is converted with
// the console shield on (format version 2, docs/console.md; the C writer is
// runtime/lib/console.c).
//
// A log is the output of one run of the program on one stream: the run's
// root session, whose header the runtime writes first, and one session per
// forked process that wrote to the stream, interleaved at record
// boundaries. Each session header is authenticated and names the enclave
// (MRENCLAVE), the run (a random run nonce), the stream, and the process's
// place in the run's process tree (its nonce, its parent's nonce and its
// fork counter). Records are AES-256-GCM with consecutive sequence numbers;
// the last record of a clean session has the final flag.
//
// Decrypt authenticates every header and record before writing plaintext
// and reports, with typed errors, logs that were modified (ErrTampered), had
// records dropped or reordered (ErrReordered), were cut off (ErrTruncated),
// mixed in sessions of another run or a session twice (ErrSpliced), of the
// other stream (ErrWrongStream) or of another enclave (ErrWrongEnclave).
//
// Logs are read with the console key (Key), which DeriveKey makes from the
// FS key: it decrypts console logs but not the protected file system, so a
// log reader need not hold the FS key. Console key files (ParseKeyFile,
// LoadKey, Key.WriteFile) are versioned text files. The package never
// prints, exits or panics.
package console
