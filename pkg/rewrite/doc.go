// Package rewrite turns the system call sites of an x86-64 ELF executable
// into jumps to per-site stubs that enter the scone-run runtime directly,
// so that a rewritten call costs a function call instead of a Syscall User
// Dispatch trap (issue 14, docs/rewrite.md).
//
// # Finding sites
//
// Function boundaries come from the symbol table (STT_FUNC symbols with a
// size; unsized ones up to the next symbol) and, for code no symbol covers,
// from the FDEs of .eh_frame whose start is a symbol or 16-byte aligned (an
// FDE may start inside an instruction: glibc describes __restore_rt from
// the byte before it). Each
// function is decoded linearly from its start with golang.org/x/arch's
// x86asm; a function with bytes that do not decode is left alone. A
// `syscall` (0f 05) found this way is a site. Nothing else (no scanning for
// byte patterns, no decoding across functions) counts.
//
// # Patching a site
//
// A site is patched when the syscall and whole neighbouring instructions
// cover at least 5 bytes (the size of a `jmp rel32`), every neighbouring
// instruction is position-independent (no RIP-relative operand, no branch,
// no call, no other system call instruction), no direct branch of any
// decoded function targets an address strictly inside the patched range, the
// function has no register- or table-indirect jump (its targets cannot be
// proven), no symbol lies inside the function after its start (labels such
// as glibc's __syscall_cancel_arch_start or musl's __cp_begin that other code
// compares program counters against), and the stub is within +-2 GB. The
// patched range becomes `jmp stub` followed by int3 bytes (never executed).
// Everything else is left to the runtime's trap (Syscall User Dispatch),
// which still catches every call.
//
// # The stub segment
//
// Stubs live in one new PT_LOAD segment (R+X) appended to the file, above
// every other segment. It starts with a 64-byte header (magic "SCONESTB",
// format version, number of sites, the entry slot, the site table's
// offset), holds the program header table (moved there, one entry longer;
// PT_PHDR follows it), the code, and the site table:
//
//	entry:  mov slot(%rip),%rcx; jrcxz native; jmp *%rcx
//	native: pop %rcx; lea 10(%rcx),%rcx; jmp *%rcx
//	stub:   <displaced instructions before the syscall>
//	        lea -128(%rsp),%rsp          ; steps over the red zone
//	        call entry
//	R:      lea 128(%rsp),%rsp           ; fast path: the runtime served the call
//	        jmp C
//	S:      lea 128(%rsp),%rsp           ; slow path: R+10
//	        syscall                      ; traps (Syscall User Dispatch)
//	C:      <displaced instructions after the syscall>
//	        jmp <end of the patched range>
//
// The runtime's loader writes the address of its fast entry into the slot
// when it maps the file. The entry returns to R with RAX = the result, or
// to S to have the call executed by the trap (clone, vfork, rt_sigreturn and
// other calls that need the trap's signal frame). With an empty slot (the
// file run by the kernel or by a runtime without the fast path) every call
// goes through S, i.e. behaves as the original instruction.
//
// The site table (format version 2) has one 16-byte entry per stub, in
// address order: the stub's offset in the segment, the patched range's
// start relative to the segment's address, the syscall's offset in the
// range and the range's length. With it the runtime shows a signal handler
// the original address of an instruction its stub executes, as the kernel
// would (musl's and glibc's thread cancellation compare that address with
// their own labels, unwinders look it up in .eh_frame), and maps it back
// when the handler returns.
//
// A site whose call number is rt_sigreturn (15) is left: the call always
// needs the trap, and unwinders recognise the restorer by its bytes.
//
// For ET_DYN files the new segment's file offset equals its virtual address
// (the dynamic loaders compute their program headers as load address +
// e_phoff), so the file is padded to that offset.
//
// Output is a function of the input bytes only.
package rewrite
