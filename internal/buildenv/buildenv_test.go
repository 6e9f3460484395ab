package buildenv

import (
	"errors"
	"testing"
	"time"
)

func TestSourceDateEpoch(t *testing.T) {
	tests := []struct {
		env     string
		want    time.Time
		set     bool
		wantErr bool
	}{
		{"", time.Time{}, false, false},
		{"0", time.Unix(0, 0).UTC(), true, false},
		{"1700000000", time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC), true, false},
		{"-1", time.Time{}, false, true},
		{"yesterday", time.Time{}, false, true},
		{"1e9", time.Time{}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			got, set, err := SourceDateEpoch(func(k string) string {
				if k != "SOURCE_DATE_EPOCH" {
					t.Fatalf("read %q", k)
				}
				return tt.env
			})
			if tt.wantErr {
				if !errors.Is(err, ErrSourceDateEpoch) {
					t.Fatalf("err = %v, want ErrSourceDateEpoch", err)
				}
				return
			}
			if err != nil || set != tt.set || !got.Equal(tt.want) {
				t.Fatalf("got %v, %v, %v; want %v, %v", got, set, err, tt.want, tt.set)
			}
		})
	}
}

func TestGCPercent(t *testing.T) {
	for _, tc := range []struct {
		gogc string
		want int
		ok   bool
	}{
		{"", ConvertGCPercent, true},
		{"100", 0, false},
		{"off", 0, false},
	} {
		t.Run("GOGC="+tc.gogc, func(t *testing.T) {
			got, ok := GCPercent(func(k string) string {
				if k == "GOGC" {
					return tc.gogc
				}
				return ""
			})
			if got != tc.want || ok != tc.ok {
				t.Fatalf("GCPercent = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
