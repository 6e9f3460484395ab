package volume

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// crashRun runs the workload on the volume in dir, crashing at the
// crashAfter-th host change (0: never). It returns the versions whose
// models are known, the version of the last successful commit and the
// number of host changes made.
func crashRun(t *testing.T, dir string, crashAfter int) (models map[uint64]model, lastOK uint64, changes int) {
	t.Helper()
	v, err := Open(dir, testKey, WithClock(fixedClock()), WithCheckpointSize(48<<10), withCrashAfter(crashAfter))
	if err != nil {
		t.Fatal(err)
	}
	w := newWorkload(42)
	m := model{}
	models = map[uint64]model{0: {}}
	defer func() { changes = v.h.changes }()
	for i := 0; i < 300; i++ {
		if err := w.step(t, v, m); err != nil {
			if errors.Is(err, errCrash) {
				return models, lastOK, 0
			}
			t.Fatalf("step %d: %v", i, err)
		}
		if i%9 == 8 {
			ver, _ := v.Root()
			models[ver+1] = m.clone()
			err := v.Commit(i%18 == 17)
			if errors.Is(err, errCrash) {
				return models, lastOK, 0
			}
			if err != nil {
				t.Fatal(err)
			}
			lastOK, _ = v.Root()
			models[lastOK] = m.clone()
		}
	}
	return models, lastOK, 0
}

// TestCrashAnywhere stops a writer after a random number of host changes
// (as a kill -9 would: every write made before stays) 100 times and checks
// that the volume then opens at the state of its last commit, at least the
// last commit that returned, verifies, and takes new writes.
func TestCrashAnywhere(t *testing.T) {
	base := t.TempDir()
	v, err := Create(base, testKey, WithClock(fixedClock()))
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	full := t.TempDir()
	copyDir(t, base, full)
	_, _, total := crashRun(t, full, 0)
	if total < 100 {
		t.Fatalf("workload makes only %d host changes", total)
	}
	r := rand.New(rand.NewPCG(1, 2))
	trials := 100
	if testing.Short() {
		trials = 20
	}
	ahead := 0
	defer func() {
		t.Logf("%d host changes per run; %d of %d crashes recovered a commit that had not returned", total, ahead, trials)
	}()
	for trial := 0; trial < trials; trial++ {
		at := 1 + r.IntN(total)
		dir := t.TempDir()
		copyDir(t, base, dir)
		models, lastOK, _ := crashRun(t, dir, at)
		v, err := Open(dir, testKey)
		if err != nil {
			t.Fatalf("crash at change %d/%d: open: %v", at, total, err)
		}
		ver, _ := v.Root()
		if ver < lastOK || ver > lastOK+1 {
			t.Fatalf("crash at change %d: recovered version %d, last commit that returned %d", at, ver, lastOK)
		}
		want, ok := models[ver]
		if !ok {
			t.Fatalf("crash at change %d: recovered version %d has no model", at, ver)
		}
		mustEqual(t, "recovered state", snapshotOf(t, v), want)
		if ver > lastOK {
			ahead++
		}
		if err := v.Verify(); err != nil {
			t.Fatalf("crash at change %d: verify: %v", at, err)
		}
		w := newWorkload(uint64(trial))
		m := want.clone()
		for i := 0; i < 30; i++ {
			if err := w.step(t, v, m); err != nil {
				t.Fatalf("crash at change %d: write after recovery: %v", at, err)
			}
		}
		if err := v.Close(); err != nil {
			t.Fatal(err)
		}
		v, err = Open(dir, testKey, ReadOnly())
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "after recovery and more writes", snapshotOf(t, v), m)
	}
}
