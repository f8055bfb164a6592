package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress draws one status line: the section running, a bar of the
// run's time budget, the live event rate and errors.
type progress struct {
	w      io.Writer
	budget time.Duration
	start  time.Time
	m      *meter

	mu      sync.Mutex
	section string
	stop    chan struct{}
	done    chan struct{}
}

func newProgress(w io.Writer, budget time.Duration, m *meter) *progress {
	p := &progress{w: w, budget: budget, start: time.Now(), m: m, stop: make(chan struct{}), done: make(chan struct{})}
	if w == nil {
		close(p.done)
		return p
	}
	go p.loop()
	return p
}

func (p *progress) set(section string) {
	p.mu.Lock()
	p.section = section
	p.mu.Unlock()
}

func (p *progress) loop() {
	defer close(p.done)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	last, lastAt := p.m.events.Load(), time.Now()
	for {
		select {
		case <-p.stop:
			fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 100))
			return
		case now := <-t.C:
			ev := p.m.events.Load()
			rate := float64(ev-last) / now.Sub(lastAt).Seconds()
			last, lastAt = ev, now
			el := now.Sub(p.start)
			frac := min(el.Seconds()/p.budget.Seconds(), 1)
			const width = 24
			n := int(frac * width)
			p.mu.Lock()
			sec := p.section
			p.mu.Unlock()
			if len(sec) > 34 {
				sec = sec[:34]
			}
			fmt.Fprintf(p.w, "\r[%s%s] %5.1fs %-34s %9.0f ev/s  err %d ",
				strings.Repeat("#", n), strings.Repeat(".", width-n), el.Seconds(), sec, rate, p.m.errors.Load())
		}
	}
}

func (p *progress) close() {
	if p.w != nil {
		close(p.stop)
	}
	<-p.done
}
