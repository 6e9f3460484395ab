// Package console decodes the console-shield record streams that the
// scone-run runtime writes instead of plaintext stdout/stderr when an image is
// converted with the console shield on.
//
// A stream is one or more sessions (one per run of the program, appended to
// the same log). Each session starts with a 24-byte header and carries
// AES-256-GCM records with consecutive sequence numbers; the last record of a
// clean session has the final flag. Decrypt authenticates every record before
// writing its plaintext and reports, with typed errors, streams that were
// modified (ErrTampered), had records dropped or reordered (ErrReordered), or
// were cut off (ErrTruncated). The format is specified in docs/console.md;
// the C writer is runtime/lib/console.c.
package console
