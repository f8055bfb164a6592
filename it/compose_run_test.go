package it

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// harness runs compose's services as local processes (compose_map_test.go
// says how paths, names, ports and users map).
type harness struct {
	t       *testing.T
	begin   time.Time
	repo    string
	base    string // every volume, copy, workdir and log
	compose composeFile
	logsys  image // of ../Dockerfile
	bins    map[string]string
	hosts   map[string]string

	mu    sync.Mutex
	procs []*proc
}

// step prints a progress line (go test -v shows it as it happens).
func (h *harness) step(format string, args ...any) {
	h.t.Helper()
	h.t.Logf("compose %5.1fs: %s", time.Since(h.begin).Seconds(), fmt.Sprintf(format, args...))
}

// service is one compose service prepared to run here.
type service struct {
	name     string
	spec     composeService
	img      image
	uid, gid uint32
	dir      string // <base>/svc/<name>: copies, image directories, log
	workdir  string
	m        mapping
}

// prepare maps name's image paths and volumes and writes its copies.
func (h *harness) prepare(name string) (*service, error) {
	spec, ok := h.compose.Services[name]
	if !ok {
		return nil, fmt.Errorf("compose.yaml has no service %s", name)
	}
	s := &service{name: name, spec: spec, dir: filepath.Join(h.base, "svc", name)}
	switch {
	case spec.Image == logsysImageName:
		s.img = h.logsys
	case strings.HasPrefix(spec.Image, "prom/prometheus:"):
		s.img = prometheusImage
	}
	user := cmpOr(spec.User, s.img.User)
	var err error
	if s.uid, s.gid, err = ids(user); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := os.MkdirAll(s.dir, 0o711); err != nil {
		return nil, err
	}
	if len(s.img.Entrypoint) > 0 {
		bin, ok := h.bins[s.img.Entrypoint[0]]
		if !ok {
			return nil, fmt.Errorf("%s: no binary for the image's entrypoint %s", name, s.img.Entrypoint[0])
		}
		s.m.add(s.img.Entrypoint[0], bin)
	}
	tmp := filepath.Join(s.dir, "tmp")
	if err := os.Mkdir(tmp, 0o777|os.ModeSticky); err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o777|os.ModeSticky); err != nil { // past the umask
		return nil, err
	}
	s.m.add("/tmp", tmp)
	type copyFile struct{ src, target string }
	var copies []copyFile
	mounted := map[string]bool{}
	for _, v := range spec.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			return nil, fmt.Errorf("%s: volume %q is not SOURCE:TARGET", name, v)
		}
		src, target := parts[0], parts[1]
		mounted[target] = true
		if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
			host := filepath.Join(h.repo, src)
			fi, err := os.Stat(host)
			if err != nil {
				return nil, fmt.Errorf("%s: bind mount %s: %w", name, v, err)
			}
			if fi.IsDir() {
				s.m.add(target, host)
				continue
			}
			copies = append(copies, copyFile{host, target})
			s.m.add(target, filepath.Join(s.dir, target))
			continue
		}
		host, err := h.volume(src, slices.Contains(s.img.Owned, target), s.uid, s.gid)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		s.m.add(target, host)
	}
	// The image's own directories that no volume covers.
	for _, p := range append(slices.Clone(s.img.Owned), s.img.Workdir) {
		if p == "" || mounted[p] {
			continue
		}
		host := filepath.Join(s.dir, p)
		if err := mkdirOwned(host, s.uid, s.gid); err != nil {
			return nil, err
		}
		s.m.add(p, host)
	}
	for _, c := range copies {
		data, err := os.ReadFile(c.src)
		if err != nil {
			return nil, err
		}
		dst := filepath.Join(s.dir, c.target)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, []byte(s.m.rewrite(string(data))), 0o644); err != nil {
			return nil, err
		}
	}
	s.workdir = s.dir
	if s.img.Workdir != "" {
		s.workdir = s.m.rewrite(s.img.Workdir)
	}
	return s, nil
}

// volume returns the directory of named volume v, creating it on first
// use: empty, or owned by uid:gid with mode 0700 when the image owns the
// mount point (Docker copies the mount point's owner and mode).
func (h *harness) volume(v string, owned bool, uid, gid uint32) (string, error) {
	dir := filepath.Join(h.base, "volumes", v)
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return dir, nil
		}
		return "", err
	}
	if owned {
		return dir, errors.Join(os.Chown(dir, int(uid), int(gid)), os.Chmod(dir, 0o700))
	}
	return dir, nil
}

func mkdirOwned(dir string, uid, gid uint32) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chown(dir, int(uid), int(gid))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// argv is the entrypoint (compose's, else the image's) and command, mapped.
func (s *service) argv() []string {
	args := slices.Clone(s.spec.Entrypoint)
	if len(args) == 0 {
		args = slices.Clone(s.img.Entrypoint)
	}
	args = append(args, s.spec.Command...)
	return s.mapAll(args)
}

func (s *service) mapAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = s.m.rewrite(a)
	}
	return out
}

// environ is compose's environment, mapped, and what docker adds.
func (s *service) environ() []string {
	env := []string{"PATH=" + imagePath, "HOSTNAME=" + cmpOr(s.spec.Hostname, s.name)}
	for k, v := range s.spec.Environment {
		env = append(env, k+"="+s.m.rewrite(v))
	}
	slices.Sort(env)
	return env
}

// command builds a process of s running args as its user in its workdir.
func (s *service) command(ctx context.Context, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env, cmd.Dir = s.environ(), s.workdir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: &syscall.Credential{Uid: s.uid, Gid: s.gid}}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}

// proc is a running service.
type proc struct {
	s    *service
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // of Wait, once done is closed
}

// start runs s's entrypoint and command; its output goes to <dir>/output.log.
func (h *harness) start(s *service) (*proc, error) {
	p := &proc{s: s, log: filepath.Join(s.dir, "output.log"), done: make(chan struct{})}
	out, err := os.Create(p.log)
	if err != nil {
		return nil, err
	}
	p.cmd = s.command(context.Background(), s.argv())
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", s.name, err)
	}
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	go func() {
		p.err = p.cmd.Wait()
		out.Close()
		close(p.done)
	}()
	return p, nil
}

// job runs a one-shot service to its end (service_completed_successfully).
func (h *harness) job(s *service, bound time.Duration) (string, error) {
	p, err := h.start(s)
	if err != nil {
		return "", err
	}
	select {
	case <-p.done:
	case <-time.After(bound):
		p.signal(syscall.SIGKILL)
		<-p.done
		return p.tail(), fmt.Errorf("%s: not done after %s", s.name, bound)
	}
	out, _ := os.ReadFile(p.log)
	if p.err != nil {
		return string(out), fmt.Errorf("%s: %w\n%s", s.name, p.err, out)
	}
	return string(out), nil
}

// healthy runs compose's healthcheck until it passes, bounded by compose's
// own start_period + retries x interval; the process must keep running.
func (h *harness) healthy(p *proc) error {
	hc := p.s.spec.Healthcheck
	if hc == nil || len(hc.Test) < 2 || hc.Test[0] != "CMD" {
		return fmt.Errorf("%s: healthcheck %v: want the [\"CMD\", ...] form", p.s.name, hc)
	}
	bound, err := healthBound(hc.StartPeriod, hc.Interval, hc.Retries)
	if err != nil {
		return fmt.Errorf("%s: %w", p.s.name, err)
	}
	args := p.s.mapAll(hc.Test[1:])
	deadline := time.Now().Add(bound)
	var last []byte
	for {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before it was healthy:\n%s", p.s.name, p.err, p.tail())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cmd := p.s.command(ctx, args)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		cancel()
		if err == nil {
			return nil
		}
		last = out.Bytes()
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: healthcheck %v still failing after %s (compose's bound): %v %s\n%s", p.s.name, args, bound, err, last, p.tail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// healthBound is start_period + retries x interval, compose's time to
// healthy (docker's defaults where unset: 0s, 30s, 3).
func healthBound(startPeriod, interval string, retries int) (time.Duration, error) {
	sp, iv := time.Duration(0), 30*time.Second
	var err error
	if startPeriod != "" {
		if sp, err = time.ParseDuration(startPeriod); err != nil {
			return 0, fmt.Errorf("start_period: %w", err)
		}
	}
	if interval != "" {
		if iv, err = time.ParseDuration(interval); err != nil {
			return 0, fmt.Errorf("interval: %w", err)
		}
	}
	if retries == 0 {
		retries = 3
	}
	return sp + time.Duration(retries)*iv, nil
}

func (p *proc) signal(sig syscall.Signal) { _ = syscall.Kill(-p.cmd.Process.Pid, sig) }

// tail is the last lines of the process's output.
func (p *proc) tail() string {
	data, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return "  | " + strings.Join(lines, "\n  | ")
}

// stopAll stops what still runs: the gateway first (compose stops
// dependents before their dependencies, and it drains into the producer),
// then the rest together; SIGTERM, SIGKILL after grace. A role that does
// not exit cleanly on SIGTERM is an error.
func (h *harness) stopAll(grace time.Duration) {
	h.mu.Lock()
	procs := slices.Clone(h.procs)
	h.mu.Unlock()
	stop := func(p *proc) {
		select {
		case <-p.done:
			return
		default:
		}
		p.signal(syscall.SIGTERM)
		select {
		case <-p.done:
			if p.err != nil {
				h.t.Errorf("%s exited with %v on SIGTERM:\n%s", p.s.name, p.err, p.tail())
			}
		case <-time.After(grace):
			p.signal(syscall.SIGKILL)
			<-p.done
			h.t.Errorf("%s ignored SIGTERM for %s: killed\n%s", p.s.name, grace, p.tail())
		}
	}
	var rest []*proc
	for _, p := range procs {
		if p.s.name == "gateway" {
			stop(p)
		} else {
			rest = append(rest, p)
		}
	}
	var wg sync.WaitGroup
	for _, p := range rest {
		wg.Go(func() { stop(p) })
	}
	wg.Wait()
	if h.t.Failed() {
		for _, p := range procs {
			argv := strings.Join(p.s.argv(), " ")
			if len(argv) > 300 {
				argv = argv[:300] + "..."
			}
			h.t.Logf("%s (%s):\n%s", p.s.name, argv, p.tail())
		}
	}
}
