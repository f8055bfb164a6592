//go:build linux

package main

import (
	"fmt"
	"io"
	"strings"
)

// row is one system under one shape, summed over the rounds.
type row struct {
	System, Shape       string
	Rounds              int
	Events, Errors      int64
	FirstError          string
	EventsPerSec        float64
	MinEvS, MaxEvS      float64 // per round
	P50ms, P99ms        float64 // mean of the rounds
	AppUs, KafkaUs      float64 // CPU per event
	LoadgenUs           float64
	AppSplitUs          map[string]float64 // per process, CPU per event
	Loads               []string
	OtherCores          float64 // mean
	Broker, Producer    counters
	seconds, appSeconds float64
}

type report struct {
	rows     []*row
	rounds   int
	variants map[string][]string // logsys/NAME -> its settings, for titles
}

func summarize(ms []measurement, systems, shapeNames []string) *report {
	rep := &report{}
	for _, sn := range shapeNames {
		for _, sys := range systems {
			r := &row{System: sys, Shape: sn, AppSplitUs: map[string]float64{}, Broker: counters{}, Producer: counters{}}
			var kafkaUs, loadUs float64
			split := map[string]float64{}
			for _, m := range ms {
				if m.System != sys || m.Shape != sn {
					continue
				}
				if r.Rounds == 0 || m.EventsPerSec < r.MinEvS {
					r.MinEvS = m.EventsPerSec
				}
				r.MaxEvS = max(r.MaxEvS, m.EventsPerSec)
				r.Rounds++
				r.Events += m.Events
				r.Errors += m.Requests - m.OK
				if r.FirstError == "" {
					r.FirstError = m.FirstError
				}
				r.seconds += m.Seconds
				r.P50ms += m.P50ms
				r.P99ms += m.P99ms
				for name, s := range m.AppCPU {
					split[name] += s
					r.appSeconds += s
				}
				kafkaUs += m.KafkaUsPerEvent * float64(m.Events)
				loadUs += m.LoadgenUsPerEv * float64(m.Events)
				r.Loads = append(r.Loads, m.Load1)
				r.OtherCores += m.OtherCores
				add(r.Broker, m.Broker)
				add(r.Producer, m.Producer)
			}
			if r.Rounds == 0 {
				continue
			}
			n := float64(r.Rounds)
			r.P50ms, r.P99ms, r.OtherCores = r.P50ms/n, r.P99ms/n, r.OtherCores/n
			if r.seconds > 0 {
				r.EventsPerSec = float64(r.Events) / r.seconds
			}
			if r.Events > 0 {
				ev := float64(r.Events)
				r.AppUs, r.KafkaUs, r.LoadgenUs = r.appSeconds*1e6/ev, kafkaUs/ev, loadUs/ev
				for name, s := range split {
					r.AppSplitUs[name] = s * 1e6 / ev
				}
			}
			rep.rounds = max(rep.rounds, r.Rounds)
			rep.rows = append(rep.rows, r)
		}
	}
	return rep
}

func add(dst, src counters) {
	for k, v := range src {
		dst[k] += v
	}
}

func (rep *report) find(sys, shape string) *row {
	for _, r := range rep.rows {
		if r.System == sys && r.Shape == shape {
			return r
		}
	}
	return nil
}

func (rep *report) title(r *row) string {
	sh, _ := shapeByName(r.Shape)
	t := sh.title
	if sh.batch > 1 {
		switch kind(r.System) {
		case "logsys", "bare":
			t = "NDJSON " + t
		case "otel":
			t = "OTLP " + t
		}
	}
	name := systemNames[kind(r.System)]
	if v, ok := strings.CutPrefix(r.System, "logsys/"); ok {
		name += " [" + strings.Join(rep.variants[v], " ") + "]"
	}
	return name + ", " + t
}

// table prints the three markdown tables: figures, ratios, Kafka side.
func (rep *report) table(w io.Writer) {
	fmt.Fprintf(w, "\n%d round(s) per arm, systems interleaved (A B C, then C B A), load generator vegeta (closed loop, HTTP/1.1 keep-alive, client certificate)\n\n", rep.rounds)
	fmt.Fprintln(w, "| arm | events/s | per round | p50 ms | p99 ms | app CPU us/event | Kafka CPU us/event | vegeta CPU us/event | errors | load 1m | other cores |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rep.rows {
		kafka := fmt.Sprintf("%.1f", r.KafkaUs)
		if r.System == "bare" {
			kafka = "-"
		}
		app := fmt.Sprintf("%.1f", r.AppUs)
		if len(r.AppSplitUs) > 1 {
			app += fmt.Sprintf(" (gw %.1f + prod %.1f)", r.AppSplitUs["gateway"], r.AppSplitUs["producer"])
		}
		fmt.Fprintf(w, "| %s | %s | %s-%s | %.2f | %.2f | %s | %s | %.1f | %d | %s | %.2f |\n",
			rep.title(r), num(r.EventsPerSec), num(r.MinEvS), num(r.MaxEvS), r.P50ms, r.P99ms, app, kafka, r.LoadgenUs, r.Errors,
			strings.Join(r.Loads, " "), r.OtherCores)
	}
	for _, r := range rep.rows {
		if r.FirstError != "" {
			fmt.Fprintf(w, "\n%s: first error: %s", rep.title(r), r.FirstError)
		}
	}
	fmt.Fprintln(w, "\nratios to the collector (x coll) and to the bare handler (x bare) of the same shape, same run (CPU: lower is better)")
	fmt.Fprintln(w, "\n| arm | events/s x coll | x bare | p50 x coll | x bare | p99 x coll | x bare | app CPU x coll | x bare | Kafka CPU x coll |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rep.rows {
		c, b := rep.find("otel", r.Shape), rep.find("bare", r.Shape)
		kafka := "-"
		if r.System != "bare" && c != nil {
			kafka = ratio(r.KafkaUs, c.KafkaUs)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", rep.title(r),
			ratioOf(r, c, func(x *row) float64 { return x.EventsPerSec }), ratioOf(r, b, func(x *row) float64 { return x.EventsPerSec }),
			ratioOf(r, c, func(x *row) float64 { return x.P50ms }), ratioOf(r, b, func(x *row) float64 { return x.P50ms }),
			ratioOf(r, c, func(x *row) float64 { return x.P99ms }), ratioOf(r, b, func(x *row) float64 { return x.P99ms }),
			ratioOf(r, c, func(x *row) float64 { return x.AppUs }), ratioOf(r, b, func(x *row) float64 { return x.AppUs }), kafka)
	}
	fmt.Fprintln(w, "\nKafka side (broker JMX counters; events per POST from the logsys producer's metrics)")
	fmt.Fprintln(w, "\n| arm | produce requests/s | events per produce request | Kafka records per event | bytes in per event | events per gateway->producer POST | partition batches per produce request | records per partition batch |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, r := range rep.rows {
		if kind(r.System) == "bare" {
			continue
		}
		reqs, recs, bytesIn := r.Broker["produce_requests"], r.Broker["messages_in"], r.Broker["bytes_in"]
		ev := float64(r.Events)
		cells := []string{"-", "-", "-", "-", "-", "-", "-"}
		if reqs > 0 && r.seconds > 0 {
			cells[0], cells[1] = num(reqs/r.seconds), fmt.Sprintf("%.1f", ev/reqs)
		}
		if ev > 0 && recs > 0 {
			cells[2], cells[3] = fmt.Sprintf("%.4f", recs/ev), fmt.Sprintf("%.0f", bytesIn/ev)
		}
		if p := r.Producer; p["posts"] > 0 {
			cells[4] = fmt.Sprintf("%.2f", p["events"]/p["posts"])
		}
		if pa := r.Broker["partition_appends"]; pa > 0 && reqs > 0 {
			cells[5], cells[6] = fmt.Sprintf("%.2f", pa/reqs), fmt.Sprintf("%.2f", recs/pa)
		}
		fmt.Fprintf(w, "| %s | %s |\n", rep.title(r), strings.Join(cells, " | "))
	}
}

func ratioOf(r, to *row, f func(*row) float64) string {
	if to == nil {
		return "-"
	}
	return ratio(f(r), f(to))
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// num prints a rate as 1234 or 12.3k.
func num(v float64) string {
	if v >= 10000 {
		return fmt.Sprintf("%.1fk", v/1000)
	}
	return fmt.Sprintf("%.0f", v)
}
