package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/scone-build/scone-build/pkg/convert"
)

// progress draws one status line on stderr when it is a terminal (stage,
// bytes, rate) and stays silent otherwise.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	on      bool
	stage   string
	started time.Time
	last    time.Time
	drawn   bool
}

func newProgress(w io.Writer, enabled bool) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok && enabled {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) update(ev convert.Progress) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if ev.Stage != p.stage {
		p.stage, p.started = ev.Stage, now
	} else if now.Sub(p.last) < 100*time.Millisecond && (ev.Total == 0 || ev.Done < ev.Total) {
		return
	}
	p.last = now
	line := fmt.Sprintf("%-8s", ev.Stage)
	if ev.Done > 0 {
		line += " " + humanBytes(ev.Done)
		if ev.Total > 0 {
			line += " / " + humanBytes(ev.Total)
		}
		if s := now.Sub(p.started).Seconds(); s > 0.05 {
			line += fmt.Sprintf("  %s/s", humanBytes(int64(float64(ev.Done)/s)))
		}
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	p.drawn = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}
