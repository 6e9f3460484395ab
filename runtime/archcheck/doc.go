// Package archcheck checks the shape of the C runtime (issue 17): no include
// circle among its headers and no call circle among its files (A calls into
// B and B, directly or through others, into A), read from the object files
// of `make runtime` with nm. Calls through ops tables (function pointers)
// are not calls here: that is how subsystems plug in without knowing each
// other.
package archcheck
