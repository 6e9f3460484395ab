package main

import (
	"syscall"
	"testing"
)

func TestModeString(t *testing.T) {
	for m, want := range map[uint32]string{
		syscall.S_IFREG | 0o4755: "-rwsr-xr-x", syscall.S_IFREG | 0o2644: "-rw-r-Sr--", syscall.S_IFDIR | 0o1777: "drwxrwxrwt",
		syscall.S_IFDIR | 0o1770: "drwxrwx--T", syscall.S_IFCHR | 0o666: "crw-rw-rw-", syscall.S_IFBLK | 0o660: "brw-rw----",
		syscall.S_IFLNK | 0o777: "lrwxrwxrwx", syscall.S_IFIFO | 0o600: "prw-------",
	} {
		if got := modeString(m); got != want {
			t.Errorf("modeString(%o) = %s, want %s", m, got, want)
		}
	}
}
