package it

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvPrometheus names the Prometheus server binary (printed by
// .ci/promtool.sh server); else `prometheus` from PATH.
const EnvPrometheus = "LOGSYS_TEST_PROMETHEUS"

const logsysImageName = "logsys:local"

// How compose's services that are not run here are provided.
var (
	composeProvided = map[string]string{
		"kafka":      "it/kafka.sh's cluster; kafka:9093 forwards to its first node",
		"postgres":   ".ci/postgres.sh; postgres:5432 forwards to it",
		"kafka-init": "it/kafka.sh's topics and ACLs, checked against kafka-init's script",
	}
	composeNotRun = map[string]string{"grafana": "not logsys; nothing here depends on it"}
)

// TestCompose runs compose.yaml for real without Docker: the pki job,
// tls-init, producer, consumer, gateway and Prometheus run as local
// processes with exactly compose's command, entrypoint and environment, in
// the order and with the conditions of compose's depends_on (each service
// starts as soon as its dependencies are done or healthy), against the CI's
// Apache Kafka and PostgreSQL. Events posted to the gateway with the
// client certificate of the compose PKI arrive in PostgreSQL and GET
// /api/v1/logs returns them; Prometheus, run with
// deploy/prometheus/prometheus.yml, scrapes every role over mutual TLS
// with the prometheus identity (up == 1 everywhere) and has loaded every
// alert rule.
func TestCompose(t *testing.T) {
	c := cluster(t)
	dsn := pgDSN(t)
	h := newHarness(t)

	pg, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s: %v", EnvPG, err)
	}
	for name, target := range map[string]string{"kafka": c.Brokers[0], "postgres": pg.Host} {
		listen := net.JoinHostPort(h.hosts[name], h.compose.Services[name].containerPort())
		f, err := newForward(listen, target)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			h.step("%s forward %s -> %s carried %d connections", name, listen, target, f.conns.Load())
			f.close()
		}()
	}
	defer h.stopAll(30 * time.Second) // before the forwards close
	checkKafkaInit(t, c, h.compose.Services["kafka-init"])
	h.step("kafka-init's topics and ACLs are in place on %v", c.Brokers)

	if err := copyTree(c.PKI, filepath.Join(h.base, "volumes", "pki"), h.logsys.User); err != nil {
		t.Fatalf("seed the pki volume: %v", err)
	}
	if errs := h.up(map[string]func(string) error{"pki": checkPKIReport, "tls-init": h.checkTLSInit}); len(errs) > 0 {
		t.Fatal(errJoin(errs))
	}

	// Prometheus is waited for while the events flow; it stops with the
	// test, whichever way the test ends.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var promErr error
	wg.Go(func() { promErr = h.checkPrometheus(ctx) })
	h.checkEvents(dsn, 40)
	wg.Wait()
	if promErr != nil {
		t.Fatal(promErr)
	}
}

// newHarness checks what running compose needs, skipping (failing under
// CI) when it is absent, and builds the logsys binary.
func newHarness(t *testing.T) *harness {
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but "+format, args...)
		}
		t.Skipf(format, args...)
	}
	if os.Geteuid() != 0 {
		missing("not root: compose's services run as their images' users (65532, nobody) and tls-init as root")
	}
	hosts, err := readHosts(composeHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	for name, addr := range hosts {
		if got, err := net.LookupHost(name); err != nil || !slices.Contains(got, addr) {
			missing("%s resolves to %v (%v), want %s: run it/compose-hosts.sh as root (.ci/services.sh and it/run.sh do)", name, got, err, addr)
		}
	}
	prom := os.Getenv(EnvPrometheus)
	if prom == "" {
		if prom, err = exec.LookPath("prometheus"); err != nil {
			missing("no Prometheus server: set %s (eval \"$(.ci/promtool.sh server)\") or put prometheus on PATH", EnvPrometheus)
		}
	}

	h := &harness{t: t, begin: time.Now(), hosts: hosts, bins: map[string]string{}}
	if h.repo, err = filepath.Abs(".."); err != nil {
		t.Fatal(err)
	}
	if h.compose, err = readCompose(filepath.Join(h.repo, "compose.yaml")); err != nil {
		t.Fatal(err)
	}
	if h.logsys, err = readDockerfile(filepath.Join(h.repo, "Dockerfile")); err != nil {
		t.Fatal(err)
	}
	// A base every image user can traverse, its parents included.
	if h.base, err = os.MkdirTemp("", "logsys-compose-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(h.base) })
	for _, d := range []string{h.base, filepath.Join(h.base, "bin"), filepath.Join(h.base, "svc"), filepath.Join(h.base, "volumes")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(h.base, "bin", "logsys")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = h.repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	h.bins[h.logsys.Entrypoint[0]] = bin
	h.bins[prometheusImage.Entrypoint[0]] = filepath.Join(h.base, "bin", "prometheus")
	// A link or copy that nobody can execute: the cache may be under a
	// home directory only root may enter.
	if err = os.Link(prom, h.bins[prometheusImage.Entrypoint[0]]); err != nil {
		err = copyFile(prom, h.bins[prometheusImage.Entrypoint[0]], 0o755)
	}
	if err != nil {
		t.Fatalf("prometheus: %v", err)
	}
	h.step("built logsys, %s ready; names from %s resolve", prom, composeHostsFile)
	return h
}

// up starts every compose service that is neither provided nor skipped,
// each as soon as its depends_on conditions hold: a one-shot job
// (service_completed_successfully) runs to its end, then check[name] reads
// its output; a service with a healthcheck is waited for until healthy.
// It returns when every service is done, healthy or failed.
func (h *harness) up(check map[string]func(string) error) []error {
	jobs := map[string]bool{}
	var names []string
	for name, s := range h.compose.Services {
		for dep, d := range s.DependsOn {
			if d.Condition == "service_completed_successfully" {
				jobs[dep] = true
			}
		}
		_, provided := composeProvided[name]
		_, skipped := composeNotRun[name]
		if !provided && !skipped {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	type state struct {
		done chan struct{}
		err  error
	}
	states := map[string]*state{}
	for _, n := range names {
		states[n] = &state{done: make(chan struct{})}
	}
	var wg sync.WaitGroup
	for _, name := range names {
		st := states[name]
		wg.Go(func() {
			defer close(st.done)
			for dep := range h.compose.Services[name].DependsOn {
				if _, ok := composeProvided[dep]; ok {
					continue
				}
				d, ok := states[dep]
				if !ok {
					st.err = fmt.Errorf("%s depends on %s, which is not run here", name, dep)
					return
				}
				<-d.done
				if d.err != nil {
					st.err = fmt.Errorf("%s: not started: %s failed", name, dep)
					return
				}
			}
			st.err = h.upOne(name, jobs[name], check[name])
		})
	}
	wg.Wait()
	var errs []error
	for _, n := range names {
		if states[n].err != nil {
			errs = append(errs, states[n].err)
		}
	}
	return errs
}

func (h *harness) upOne(name string, job bool, check func(string) error) error {
	s, err := h.prepare(name)
	if err != nil {
		return err
	}
	if job {
		out, err := h.job(s, 2*time.Minute)
		if err == nil && check != nil {
			err = check(out)
		}
		if err == nil {
			h.step("%s completed: %s", name, lastLine(out))
		}
		return err
	}
	p, err := h.start(s)
	if err != nil {
		return err
	}
	h.step("%s started: %s", name, strings.Join(s.argv(), " "))
	if s.spec.Healthcheck == nil {
		return nil
	}
	if err := h.healthy(p); err != nil {
		return err
	}
	h.step("%s healthy", name)
	return nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func errJoin(errs []error) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("\n" + e.Error())
	}
	return b.String()
}
