//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// system is one system under test, started as its own processes.
type system struct {
	name    string
	addr    string
	procs   []*proc
	metrics string            // the producer's /metrics (logsys only)
	pprof   map[string]string // role -> pprof base URL (logsys with -profile)
}

// harness is one `peer run`: its systems, load generator and results.
type harness struct {
	o       options
	systems map[string]*system
	all     []*proc
	gen     *loadgen
	jmx     *jmx
	scrape  *tls.Config // the prometheus identity
	out     []measurement
	e2e     []e2eResult
}

func run(ctx context.Context, o options) error {
	b := &harness{o: o, systems: map[string]*system{}}
	defer b.stopAll()
	env := filepath.Join(o.pki, o.env)
	b.gen = &loadgen{vegeta: filepath.Join(o.bin, "vegeta"), dir: o.work, requestTimeout: 30 * time.Second,
		cert: filepath.Join(env, "client", "cert.pem"), key: filepath.Join(env, "client", "key.pem"), ca: filepath.Join(env, "ca.pem")}
	var err error
	if b.scrape, err = identityTLS(env, "prometheus"); err != nil {
		return err
	}
	for _, s := range o.systems {
		if err := b.startSystem(ctx, s); err != nil {
			return err
		}
	}
	if o.kafkaPID > 0 && o.kafkaJMX != "" {
		if b.jmx, err = startJMX(ctx, o.kafkaJMX, o.kafkaPID, "log-events"); err != nil {
			return err
		}
		defer b.jmx.close()
	}
	fmt.Fprintf(os.Stderr, "peer: warm-up, %s per arm\n", o.warmup)
	for _, sn := range o.shapes {
		sh, _ := shapeByName(sn)
		for _, sys := range o.systems {
			if o.warmup <= 0 {
				break
			}
			t, _ := targetFor(sys, sh, b.systems[sys].addr, o.logsysAnswer)
			if _, err := b.gen.attack(ctx, "warmup-"+sys+"-"+sn, t, sh.workers, o.warmup); err != nil {
				return err
			}
		}
	}
	for round := 1; round <= o.rounds; round++ {
		for _, sn := range o.shapes {
			sh, _ := shapeByName(sn)
			order := o.systems
			if round%2 == 0 { // A B C, then C B A: drift falls on every system alike
				order = reversed(order)
			}
			for _, sys := range order {
				m, err := b.measure(ctx, sys, sh, round)
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "peer: round %d %-7s %-9s %8.0f ev/s p50 %6.2f ms p99 %6.2f ms app %6.1f us/ev kafka %6.1f us/ev load %s\n",
					round, sys, sn, m.EventsPerSec, m.P50ms, m.P99ms, m.AppUsPerEvent, m.KafkaUsPerEvent, m.Load1)
				b.out = append(b.out, m)
			}
		}
	}
	rep := summarize(b.out, o.systems, o.shapes)
	rep.variants = o.variants
	rep.table(os.Stdout)
	if o.profile && b.systems["logsys"] != nil {
		if err := b.profileLogsys(ctx); err != nil {
			return err
		}
	}
	if o.pg != "" {
		if err := b.endToEnd(ctx); err != nil {
			return fmt.Errorf("end to end: %w", err)
		}
		e2eTable(os.Stdout, b.e2e)
	}
	if o.jsonOut != "" {
		data, _ := json.MarshalIndent(map[string]any{"measurements": b.out, "summary": rep.rows, "end_to_end": b.e2e}, "", "  ")
		if err := os.WriteFile(o.jsonOut, data, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", o.jsonOut, err)
		}
	}
	return nil
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[len(s)-1-i] = x
	}
	return out
}

// startSystem starts sys's processes and waits until they serve.
func (b *harness) startSystem(ctx context.Context, sys string) error {
	o := b.o
	env := filepath.Join(o.pki, o.env)
	client, err := identityTLS(env, "client")
	if err != nil {
		return err
	}
	port := func() string {
		p, err2 := freePort()
		if err2 != nil {
			err = err2
		}
		return strconv.Itoa(p)
	}
	s := &system{name: sys, pprof: map[string]string{}}
	switch kind(sys) {
	case "bare":
		self, err := os.Executable()
		if err != nil {
			return err
		}
		s.addr = "127.0.0.1:" + port()
		p, err := start("bare", filepath.Join(o.work, "bare.log"), self, nil, "bare", "-addr", s.addr, "-pki", o.pki, "-env", o.env)
		if err != nil {
			return err
		}
		b.all, s.procs = append(b.all, p), []*proc{p}
		if err := waitTLS(ctx, p, s.addr, client, 30*time.Second); err != nil {
			return err
		}
	case "logsys":
		gw, pr := port(), port()
		file := strings.ReplaceAll(sys, "/", "-")
		cfg := filepath.Join(o.work, file+".yaml")
		settings, vars := variantEnv(o.variants[strings.TrimPrefix(sys, "logsys/")])
		if err := fill(filepath.Join(o.templates, "logsys.yaml"), cfg, map[string]string{
			"@GWPORT@": gw, "@PRPORT@": pr, "@PKI@": o.pki, "@DATA@": filepath.Join(o.work, file), "@BROKERS@": brokerList(o.brokers),
		}, settings...); err != nil {
			return err
		}
		gwTLS, err := identityTLS(env, "gateway")
		if err != nil {
			return err
		}
		for _, role := range []struct {
			name, port string
			tc         *tls.Config
		}{{"producer", pr, gwTLS}, {"gateway", gw, client}} {
			envs := slices.Clone(vars)
			if o.profile && sys == "logsys" {
				pp := "127.0.0.1:" + port()
				envs = append(envs, "LOGSYS_BENCH_PPROF="+pp)
				s.pprof[role.name] = "http://" + pp
			}
			p, err := start(role.name, filepath.Join(o.work, file+"-"+role.name+".log"), filepath.Join(o.bin, "logsys"), envs, role.name, "--config", cfg)
			if err != nil {
				return err
			}
			b.all, s.procs = append(b.all, p), append(s.procs, p)
			if err := waitTLS(ctx, p, "127.0.0.1:"+role.port, role.tc, 60*time.Second); err != nil {
				return err
			}
		}
		s.addr = "127.0.0.1:" + gw
		s.metrics = "https://127.0.0.1:" + pr + "/metrics"
	case "otel":
		s.addr = "127.0.0.1:" + port()
		cfg := filepath.Join(o.work, "otelcol.yaml")
		if err := fill(filepath.Join(o.templates, "otelcol.yaml"), cfg, map[string]string{
			"@PORT@": strings.TrimPrefix(s.addr, "127.0.0.1:"), "@ENVDIR@": env, "@BROKERS@": brokerList(o.brokers),
		}); err != nil {
			return err
		}
		p, err := start("otelcol", filepath.Join(o.work, "otelcol.log"), filepath.Join(o.bin, "otelcol-peer"), nil, "--config", cfg)
		if err != nil {
			return err
		}
		b.all, s.procs = append(b.all, p), []*proc{p}
		if err := waitTLS(ctx, p, s.addr, client, 60*time.Second); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	b.systems[sys] = s
	return nil
}

func (b *harness) stopAll() {
	for i := len(b.all) - 1; i >= 0; i-- {
		b.all[i].stop(20 * time.Second)
	}
}

// brokerList is a YAML flow list of the comma-separated brokers.
func brokerList(s string) string {
	var q []string
	for _, x := range split(s) {
		q = append(q, strconv.Quote(x))
	}
	return strings.Join(q, ", ")
}

var placeholder = regexp.MustCompile(`@[A-Z]+@`)

// fill writes template src to dst with every placeholder replaced by its
// value and then each KEY=VALUE of sets applied (setYAML).
func fill(src, dst string, repl map[string]string, sets ...string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	var pairs []string
	for k, v := range repl {
		pairs = append(pairs, k, v)
	}
	out := strings.NewReplacer(pairs...).Replace(string(b))
	if left := placeholder.FindString(out); left != "" {
		return fmt.Errorf("template %s: %s not replaced", src, left)
	}
	for _, kv := range sets {
		k, v, _ := strings.Cut(kv, "=")
		if out, err = setYAML(out, k, v); err != nil {
			return fmt.Errorf("template %s: %w", src, err)
		}
	}
	return os.WriteFile(dst, []byte(out), 0o600)
}

// identityTLS is a client configuration presenting name's certificate
// and trusting only the environment's intermediate.
func identityTLS(envDir, name string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(envDir, name, "cert.pem"), filepath.Join(envDir, name, "key.pem"))
	if err != nil {
		return nil, fmt.Errorf("load %s certificate: %w", name, err)
	}
	pem, err := os.ReadFile(filepath.Join(envDir, "ca.pem"))
	if err != nil {
		return nil, fmt.Errorf("read trust anchor: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s/ca.pem", envDir)
	}
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, RootCAs: pool}, nil
}
