package main

import "testing"

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		err  bool
	}{
		{"65536", 65536, false},
		{"512K", 512 << 10, false},
		{"64M", 64 << 20, false},
		{"64MiB", 64 << 20, false},
		{"1g", 1 << 30, false},
		{"2GB", 2 << 30, false},
		{"0", 0, true},
		{"", 0, true},
		{"-1M", 0, true},
		{"1T", 0, true},
		{"99999999999G", 0, true},
		{"M", 0, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseSize(tc.in)
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("parseSize(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 64 << 20: "64.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := humanBytes(in); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", in, got, want)
		}
	}
}
