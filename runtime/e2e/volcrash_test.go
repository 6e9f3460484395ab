package e2e

import (
	"bufio"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scone-build/scone-build/pkg/volume"
)

func init() {
	recipes["volcrash-static"] = recipe{"volcrash.c", cc("gcc", "-static")}
}

// TestProtectedVolumeCrash: a writer that appends fsync'ed records to a file
// on a protected volume and replaces another file atomically is killed
// (SIGKILL) at 100 random moments. Each next run finds every record it had
// reported synced, whole and in order, and a state file that names one of
// them (the runtime recovers the volume at open); at the end the Go reader
// (pkg/volume, the offline tools) opens and verifies the same volume. The
// moments come from a seed that is printed (SCONE_E2E_SEED replays one).
//
// "append" writes small records (the volume logs them); "append-big" also
// writes a 320 KiB file per record, whose pages the volume writes in place
// (fresh places of a new file), killed 50 times.
func TestProtectedVolumeCrash(t *testing.T) {
	for _, c := range []struct {
		mode  string
		kills int
	}{{"append", 100}, {"append-big", 50}} {
		t.Run(c.mode, func(t *testing.T) { crashVolume(t, c.mode, c.kills) })
	}
}

func crashVolume(t *testing.T, mode string, kills int) {
	rt := runtimeBin(t)
	bin := prog(t, "volcrash-static")
	vol := filepath.Join(t.TempDir(), "data")
	e := makeEnclave(t, rt, bin, withVolume(vol))
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("SCONE_E2E_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x5c0e))
	synced := int64(-1) // the last record any run reported synced
	started := 0
	// The kills fall in a window after the program's start-up, which the
	// first run measures (how long until it says "start"): ~20 ms where a
	// system call costs ~150 ns, several times that in a PVM guest. The
	// start-up grows as the volume does (append-big adds 320 KiB per
	// record) and with the load of the machine (CI runs packages side by
	// side): each run that started gives the next its own start-up, and a
	// run killed before it started lengthens it by a quarter.
	var startup time.Duration
	for i := 0; i < kills; i++ {
		cmd := exec.Command(rt, mode, vol)
		cmd.Env = e.env()
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		begun := make(chan struct{})
		t0 := time.Now()
		var tookToStart time.Duration // read once lines is closed
		go func() {
			sc := bufio.NewScanner(out)
			said := false
			for sc.Scan() {
				if !said && strings.HasPrefix(sc.Text(), "start ") {
					tookToStart = time.Since(t0)
					close(begun)
					said = true
				}
				lines <- sc.Text()
			}
			close(lines)
		}()
		if i == 0 {
			select {
			case <-begun:
				startup = time.Since(t0)
				t.Logf("start-up: %v", startup)
			case <-time.After(30 * time.Second):
				t.Fatalf("the first run did not start within 30 s")
			}
		}
		time.Sleep(startup*4/5 + time.Duration(rng.IntN(150))*time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		var got []string
		for l := range lines {
			got = append(got, l)
		}
		if tookToStart > 0 {
			startup = tookToStart
		} else {
			startup += startup / 4
		}
		werr := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("run %d ended before the kill (%v):\nstdout: %s\nstderr: %s", i, werr, strings.Join(got, "\n"), stderr.String())
		}
		for _, l := range got {
			switch {
			case strings.HasPrefix(l, "start "):
				k, _ := strconv.ParseInt(strings.TrimPrefix(l, "start "), 10, 64)
				if k <= synced {
					t.Fatalf("run %d found %d records, but record %d was reported synced before", i, k, synced)
				}
				started++
			case strings.HasPrefix(l, "synced "):
				n, _ := strconv.ParseInt(strings.TrimPrefix(l, "synced "), 10, 64)
				synced = max(synced, n)
			default:
				t.Fatalf("run %d: %s\nstderr: %s", i, l, stderr.String())
			}
		}
	}
	check := "check"
	if mode == "append-big" {
		check = "check-big"
	}
	got := run(t, e.env(), rt, check, vol)
	if got.code != 0 || !strings.HasPrefix(got.stdout, "start ") {
		t.Fatalf("check after the kills: exit %d\nstdout: %s\nstderr: %s", got.code, got.stdout, got.stderr)
	}
	k, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(got.stdout, "start ")), 10, 64)
	if k <= synced {
		t.Fatalf("%d records at the end, but record %d was reported synced", k, synced)
	}
	if started < kills/2 || synced < 10 {
		t.Fatalf("the kills came too early to test anything: %d of %d runs started, %d records synced", started, kills, synced+1)
	}
	gv, err := volume.Open(vol, mustDerive(t, e.key(), vol), volume.ReadOnly())
	if err != nil {
		t.Fatalf("pkg/volume opens the volume after %d kills: %v", kills, err)
	}
	b, err := gv.ReadFile("log.txt")
	if err != nil || !strings.HasSuffix(string(b), "record "+strconv.FormatInt(k-1, 10)+"\n") {
		t.Fatalf("pkg/volume reads log.txt: %d bytes, %v", len(b), err)
	}
	if mode == "append-big" { // pages the runtime wrote in place, read by the Go reader
		name := "b" + strconv.FormatInt(k-1, 10)
		b, err := gv.ReadFile(name)
		if err != nil || len(b) != 320<<10 {
			t.Fatalf("pkg/volume reads %s: %d bytes, %v", name, len(b), err)
		}
		for i, c := range b {
			if want := byte('a' + ((k-1)*7+int64(i/4096))%26); c != want {
				t.Fatalf("pkg/volume reads %s: byte %d is %q, want %q", name, i, c, want)
			}
		}
	}
	t.Logf("%d kills (%d runs got to start), %d records synced, %d on the volume", kills, started, synced+1, k)
}
