package convert

import "testing"

func TestDictStrideFor(t *testing.T) {
	for _, tc := range []struct {
		name       string
		compressed int64
		want       int
	}{
		{"empty layer", 0, 1},
		{"busybox-sized layer is sampled whole", 1 << 20, 1},
		{"estimate just fills the budget", dictBudget / dictExpansion, 1},
		{"a little more", dictBudget/dictExpansion + 1, 2},
		{"a few MB", 5 << 20, 4},
		{"nginx's largest layer (51 MB)", 50863713, dictMaxStride},
		{"huge layer stays at the cap", 1 << 40, dictMaxStride},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := dictStrideFor(tc.compressed); got != tc.want {
				t.Errorf("dictStrideFor(%d) = %d, want %d", tc.compressed, got, tc.want)
			}
		})
	}
}
