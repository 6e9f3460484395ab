package enclave

import (
	"os"
	"testing"
	"time"
)

func TestSpeedTmp(t *testing.T) {
	b, _ := os.ReadFile(fixtureDir + "/tiny.sigstruct.bin")
	for _, v := range []byte{0x00, 0xff} {
		c := append([]byte(nil), b...)
		c[128] = v // lowest byte of N: even / odd
		for i := 129; i < 512; i++ {
			if v == 0 { c[i] = 0xff }
		}
		s, _ := ParseSigStruct(c)
		st := time.Now()
		err := s.Verify()
		t.Logf("v %x: %v in %v", v, err, time.Since(st))
	}
}
