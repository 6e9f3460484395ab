package convert

import (
	"context"
	"os"
	"testing"
)

// The programs of the image are rewritten by default (docs/rewrite.md),
// deterministically; WithRewrite(false) keeps them as they are; the counts
// appear in the report and in the compatibility report's binaries.
func TestConvertRewrite(t *testing.T) {
	fixtures(t)
	ctx := context.Background()
	src := busyboxImage(t)
	_, on, err := convertImage(ctx, src, opts()...)
	if err != nil {
		t.Fatal(err)
	}
	_, again, err := convertImage(ctx, src, opts()...)
	if err != nil {
		t.Fatal(err)
	}
	_, off, err := convertImage(ctx, src, opts(WithRewrite(false))...)
	if err != nil {
		t.Fatal(err)
	}
	rw := on.Rewrite
	if rw == nil || len(rw.Files) != 1 || rw.Files[0].Path != "/bin/busybox" || rw.Files[0].Rewritten == 0 ||
		rw.Rewritten != rw.Files[0].Rewritten || rw.Left != rw.Files[0].Left {
		t.Fatalf("rewrite report: %+v", rw)
	}
	// A shared library with system calls is rewritten too; one without
	// (here: a copy named like a library with no 0f 05 in its code) is not.
	if libc, err := os.ReadFile("/lib/x86_64-linux-gnu/libc.so.6"); err == nil {
		_, withLib, err := convertImage(ctx, busyboxImage(t, file{name: "lib/libc.so.6", body: libc, mode: 0o755}), opts()...)
		if err != nil {
			t.Fatal(err)
		}
		if f := withLib.Rewrite.Files; len(f) != 2 || f[1].Path != "/lib/libc.so.6" || f[1].Rewritten < 100 {
			t.Fatalf("with libc: %+v", f)
		}
	}
	t.Logf("busybox: %d sites rewritten, %d left (%v)", rw.Files[0].Rewritten, rw.Files[0].Left, rw.Files[0].LeftBecause)
	found := false
	for _, b := range on.Compatibility.Binaries {
		if b.Path == "/bin/busybox" {
			found = b.SyscallRewrite != nil && b.SyscallRewrite.Rewritten == rw.Files[0].Rewritten
		}
	}
	if !found {
		t.Fatal("the compatibility report does not count busybox's rewritten sites")
	}
	if off.Rewrite != nil {
		t.Fatalf("WithRewrite(false) rewrote: %+v", off.Rewrite)
	}
	for _, b := range off.Compatibility.Binaries {
		if b.SyscallRewrite != nil {
			t.Fatalf("WithRewrite(false): %s counted as rewritten", b.Path)
		}
	}
	if on.FSRoot == off.FSRoot || on.MRENCLAVE == off.MRENCLAVE {
		t.Fatal("rewriting did not change the protected FS image and MRENCLAVE")
	}
	if on.FSRoot != again.FSRoot || on.MRENCLAVE != again.MRENCLAVE {
		t.Fatal("two conversions with rewriting differ")
	}
}
