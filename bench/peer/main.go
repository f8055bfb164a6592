//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: peer run [flags] | peer bare [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(ctx, os.Args[2:])
	case "bare":
		err = bareCmd(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: use run or bare", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
}

// options is one `peer run`.
type options struct {
	bin       string // logsys, otelcol-peer, vegeta, peer
	pki       string // `logsys pki init` directory
	env       string
	brokers   string
	kafkaPID  int
	kafkaJMX  string // KafkaStats.java; empty: no broker counters
	work      string // configs, logs, vegeta results, profiles
	templates string // bench/peer: logsys.yaml, otelcol.yaml
	duration  time.Duration
	warmup    time.Duration
	rounds    int
	systems   []string
	shapes    []string
	profile   bool
	jsonOut   string
	// variants are extra logsys systems, "logsys/NAME", each its own
	// gateway and producer whose configuration file has these
	// key=value settings (dotted keys of config.yaml), or, for a key
	// env.VAR, whose environment has VAR=value (env.GOGC=400).
	variants map[string][]string
	// pg is the PostgreSQL DSN (the consumer's certificate) of the
	// end-to-end phase; empty: no such phase. pgPID is its postmaster.
	pg      string
	pgPID   int
	e2eRate float64       // events/s of the paced phase
	e2eFill time.Duration // closed-loop load of the drain phase
	// logsysAnswer is the answer logsys is asked for: answerMinimal
	// (Prefer: return=minimal) or answerFull (the ids listed).
	logsysAnswer string
}

func runCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var o options
	var systems, shapes string
	var variants []string
	fs.StringVar(&o.bin, "bin", "", "directory holding logsys, otelcol-peer and vegeta")
	fs.StringVar(&o.pki, "pki", "", "PKI directory made by `logsys pki init` (the broker's too)")
	fs.StringVar(&o.env, "env", "dev", "PKI environment")
	fs.StringVar(&o.brokers, "brokers", "127.0.0.1:19093", "Kafka bootstrap brokers, comma separated")
	fs.IntVar(&o.kafkaPID, "kafka-pid", 0, "pid of the broker, for its CPU and JMX counters (0: not measured)")
	fs.StringVar(&o.kafkaJMX, "kafka-stats", "", "path of KafkaStats.java (empty: no broker counters)")
	fs.StringVar(&o.work, "work", "", "work directory (configs, logs, results, profiles)")
	fs.StringVar(&o.templates, "templates", "", "directory of logsys.yaml and otelcol.yaml (bench/peer)")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "measuring time of each arm in each round")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured warm-up of each arm before the first round")
	fs.IntVar(&o.rounds, "rounds", 2, "rounds; each runs every arm once, systems interleaved")
	fs.StringVar(&systems, "systems", "bare,logsys,otel", "systems to measure")
	fs.StringVar(&shapes, "shapes", "single16,single64,batch16", "load shapes: single16, single64, batch16")
	fs.BoolVar(&o.profile, "profile", false, "after the rounds, profile gateway and producer (CPU, allocations) under each shape")
	fs.StringVar(&o.jsonOut, "json", "", "also write every measurement as JSON to this file")
	fs.Func("variant", "NAME=KEY=VALUE,...: one more logsys system, logsys/NAME, whose config file sets these dotted keys (gateway.producer.workers=2); repeatable", func(v string) error {
		variants = append(variants, v)
		return nil
	})
	fs.StringVar(&o.pg, "pg", "", "PostgreSQL DSN (consumer certificate): after the rounds, measure the consumer into it (paced and drain phases)")
	fs.IntVar(&o.pgPID, "pg-pid", 0, "pid of the PostgreSQL postmaster, for the server's CPU (0: not measured)")
	fs.Float64Var(&o.e2eRate, "e2e-rate", 50000, "events/s the gateway is driven at while the consumer runs (-pg)")
	fs.DurationVar(&o.e2eFill, "e2e-fill", 5*time.Second, "closed-loop load that fills the backlog of the drain phase (-pg)")
	fs.StringVar(&o.logsysAnswer, "logsys-answer", answerMinimal, "answer asked of logsys: minimal (Prefer: return=minimal, the count only, as the collector's empty OTLP answer) or full (the ids listed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.systems, o.shapes = split(systems), split(shapes)
	if err := o.addVariants(variants); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	return run(ctx, o)
}

func (o *options) validate() error {
	var missing []string
	for name, v := range map[string]string{"-bin": o.bin, "-pki": o.pki, "-work": o.work, "-templates": o.templates} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	if o.logsysAnswer != answerMinimal && o.logsysAnswer != answerFull {
		return fmt.Errorf("-logsys-answer must be %s or %s, not %q", answerMinimal, answerFull, o.logsysAnswer)
	}
	if o.duration <= 0 || o.rounds < 1 {
		return fmt.Errorf("-duration must be positive and -rounds at least 1")
	}
	if o.pg != "" && (o.e2eRate <= 0 || o.e2eFill <= 0 || !slices.Contains(o.systems, "logsys")) {
		return fmt.Errorf("-pg needs a positive -e2e-rate and -e2e-fill and the logsys system")
	}
	for _, s := range o.systems {
		if _, ok := systemNames[kind(s)]; !ok {
			return fmt.Errorf("-systems: %q is not one of bare, logsys, otel", s)
		}
	}
	for _, s := range o.shapes {
		if _, ok := shapeByName(s); !ok {
			return fmt.Errorf("-shapes: %q is not one of single16, single64, batch16", s)
		}
	}
	for _, p := range []*string{&o.bin, &o.pki, &o.work, &o.templates} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	return os.MkdirAll(o.work, 0o700)
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// addVariants parses -variant values and inserts logsys/NAME after
// logsys in the systems (at the end without it).
func (o *options) addVariants(vs []string) error {
	o.variants = map[string][]string{}
	var names []string
	for _, v := range vs {
		name, rest, _ := strings.Cut(v, "=")
		if name == "" || strings.ContainsAny(name, "/ ") || rest == "" {
			return fmt.Errorf("-variant %q: want NAME=KEY=VALUE,... (gateway.producer.workers=2)", v)
		}
		if _, dup := o.variants[name]; dup {
			return fmt.Errorf("-variant %q: name %s given twice", v, name)
		}
		for _, kv := range split(rest) {
			k, _, ok := strings.Cut(kv, "=")
			if ev, isEnv := strings.CutPrefix(k, "env."); ok && isEnv && ev != "" && !strings.ContainsAny(ev, "= ") {
				o.variants[name] = append(o.variants[name], kv) // variantEnv passes it on, not the file
				continue
			}
			if !ok || !strings.HasPrefix(k, "gateway.") && !strings.HasPrefix(k, "producer.") && !strings.HasPrefix(k, "log.") {
				return fmt.Errorf("-variant %q: %q is not a gateway., producer., log. or env. KEY=VALUE", v, kv)
			}
			if _, err := setYAML("", k, "x"); err != nil {
				return fmt.Errorf("-variant %q: %w", v, err)
			}
			o.variants[name] = append(o.variants[name], kv)
		}
		names = append(names, "logsys/"+name)
	}
	if len(names) == 0 {
		return nil
	}
	at := len(o.systems)
	for i, s := range o.systems {
		if s == "logsys" {
			at = i + 1
		}
	}
	o.systems = append(o.systems[:at:at], append(names, o.systems[at:]...)...)
	return nil
}

// variantEnv splits a variant's settings into the configuration file's
// and the environment's (env.VAR=value as VAR=value).
func variantEnv(settings []string) (file, env []string) {
	for _, kv := range settings {
		if rest, ok := strings.CutPrefix(kv, "env."); ok {
			env = append(env, rest)
		} else {
			file = append(file, kv)
		}
	}
	return file, env
}

// kind is the system a name runs: bare, logsys (also logsys/NAME) or otel.
func kind(sys string) string {
	if strings.HasPrefix(sys, "logsys/") {
		return "logsys"
	}
	return sys
}
