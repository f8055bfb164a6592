package tlsx

import (
	"context"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Run watches the source's directories and polls their content every
// PollInterval, reloading on change, until ctx ends. Directories are
// watched, not files, because rotation replaces files by rename. If the
// watcher cannot start, Run logs why and keeps polling. A source built
// with NewSourceFromPEM has nothing to watch: Run just waits for ctx.
func (s *Source) Run(ctx context.Context) error {
	if s.pushed {
		<-ctx.Done()
		return nil
	}
	events, stop := s.watch()
	defer stop()
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	check := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		_ = s.reloadLocked(false) // logged and counted inside
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-events:
			if !ok {
				events = nil // watcher died; polling continues
				continue
			}
			debounce.Reset(s.cfg.Debounce)
		case <-debounce.C:
			check()
		case <-poll.C:
			check()
		}
	}
}

// watch starts an fsnotify watcher on every directory holding a source
// file. Any event there signals the returned channel: reloads compare
// content hashes, so spurious signals cost one read. The channel is nil
// when no watcher could start.
func (s *Source) watch() (<-chan struct{}, func()) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		s.log.Warn("tls file watcher unavailable; polling only", "err", err)
		return nil, func() {}
	}
	dirs := map[string]bool{}
	for _, p := range []string{s.cfg.CertFile, s.cfg.KeyFile, s.cfg.CAFile, s.cfg.BundleFile, s.cfg.CRLFile} {
		if p != "" {
			dirs[filepath.Dir(p)] = true
		}
	}
	for d := range dirs {
		if err := w.Add(d); err != nil {
			s.log.Warn("tls file watcher cannot watch directory; polling covers it", "dir", d, "err", err)
		}
	}
	out := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		for {
			select {
			case _, ok := <-w.Events:
				if !ok {
					return
				}
				select {
				case out <- struct{}{}:
				default: // a signal is already pending
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				s.log.Warn("tls file watcher error", "err", err)
			}
		}
	}()
	return out, func() { w.Close(); <-done }
}
