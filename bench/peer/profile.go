//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// profileLogsys runs one more pass of every shape against logsys only,
// fetching CPU, allocation and mutex profiles of the gateway and the
// producer while the load runs, and writes them with `go tool pprof
// -top` summaries under WORK/profiles. The pass is not in the table:
// profiling costs a few percent.
func (b *harness) profileLogsys(ctx context.Context) error {
	s := b.systems["logsys"]
	dir := filepath.Join(b.o.work, "profiles")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	secs := max(int((b.o.duration - 2*time.Second).Seconds()), 1)
	for _, sn := range b.o.shapes {
		sh, _ := shapeByName(sn)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for role, base := range s.pprof {
			for kind, path := range map[string]string{
				"cpu": "/debug/pprof/profile", "allocs": "/debug/pprof/allocs", "mutex": "/debug/pprof/mutex", "block": "/debug/pprof/block",
			} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					file := filepath.Join(dir, fmt.Sprintf("%s-%s.%s.pprof", role, sn, kind))
					if err := fetch(ctx, fmt.Sprintf("%s%s?seconds=%d", base, path, secs), file, time.Duration(secs+30)*time.Second); err != nil {
						errs <- err
					}
				}()
			}
		}
		time.Sleep(200 * time.Millisecond)
		m, err := b.measure(ctx, "logsys", sh, 0)
		wg.Wait()
		close(errs)
		if err != nil {
			return err
		}
		for e := range errs {
			return e
		}
		fmt.Fprintf(os.Stderr, "peer: profiled %s: %.0f ev/s, p99 %.2f ms, forwarder %.2f events/POST\n", sn, m.EventsPerSec, m.P99ms,
			m.Producer["events"]/max(m.Producer["posts"], 1))
		b.out = append(b.out, m)
	}
	return summarizeProfiles(ctx, dir, filepath.Join(b.o.bin, "logsys"))
}

func fetch(ctx context.Context, url, file string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: HTTP %d", url, resp.StatusCode)
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// summarizeProfiles writes `go tool pprof -top` views next to each
// profile when the go command is there.
func summarizeProfiles(ctx context.Context, dir, bin string) error {
	if _, err := exec.LookPath("go"); err != nil {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.pprof"))
	for _, f := range files {
		views := map[string][]string{".cum.txt": {"-top", "-cum", "-nodecount=60"}, ".flat.txt": {"-top", "-nodecount=40"}}
		if filepath.Ext(f[:len(f)-len(".pprof")]) == ".allocs" {
			views = map[string][]string{".alloc_space.txt": {"-top", "-sample_index=alloc_space", "-nodecount=40"},
				".alloc_objects.cum.txt": {"-top", "-cum", "-sample_index=alloc_objects", "-nodecount=40"}}
		}
		for suffix, args := range views {
			out, err := exec.CommandContext(ctx, "go", append(append([]string{"tool", "pprof"}, args...), bin, f)...).CombinedOutput()
			if err != nil {
				out = append(out, []byte("\n"+err.Error())...)
			}
			if err := os.WriteFile(f[:len(f)-len(".pprof")]+suffix, out, 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}
