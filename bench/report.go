package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the result of a run; its JSON form is `logsys bench --json`.
type Report struct {
	Machine    string       `json:"machine"`
	Started    time.Time    `json:"started"`
	Seconds    float64      `json:"seconds"`
	Notes      []string     `json:"notes"`
	Rows       []Row        `json:"rows"`
	Ratios     []Ratio      `json:"ratios"`
	Handshakes []Handshake  `json:"handshakes,omitempty"`
	Storm      *stormResult `json:"storm,omitempty"`
	Targets    []Target     `json:"targets"`
	Skipped    []string     `json:"skipped,omitempty"`
	// Brokers names the real brokers of a --brokers run (empty: embedded).
	Brokers string `json:"brokers,omitempty"`
}

// Row is one measured arm.
type Row struct {
	Name              string  `json:"name"`
	Proto             string  `json:"proto"`
	Conns             int     `json:"conns"`
	Batch             int     `json:"batch"`
	Requests          int64   `json:"requests"`
	Events            int64   `json:"events"`
	Errors            int64   `json:"errors"`
	FirstError        string  `json:"first_error,omitempty"`
	Seconds           float64 `json:"seconds"`
	EventsPerSec      float64 `json:"events_per_sec"`
	P50ms             float64 `json:"p50_ms"`
	P95ms             float64 `json:"p95_ms"`
	P99ms             float64 `json:"p99_ms"`
	MaxMs             float64 `json:"max_ms"`
	CPUSecPer1kEvents float64 `json:"cpu_sec_per_1k_events"`
	// BrokerCPUSecPer1kEvents is the CPU of real brokers (--brokers).
	BrokerCPUSecPer1kEvents float64 `json:"broker_cpu_sec_per_1k_events,omitempty"`
	WireBytesPerEvent       float64 `json:"wire_bytes_per_event"`
	NewConns                int64   `json:"new_conns"`
	Resumed                 int64   `json:"resumed"`
}

// Ratio compares two rows measured side by side, interleaved.
type Ratio struct {
	Name  string  `json:"name"`
	Of    string  `json:"of"`
	To    string  `json:"to"`
	Value float64 `json:"value"`
}

// Handshake is the server CPU cost of one leaf key type and key exchange.
type Handshake struct {
	KeyType       string  `json:"key_type"`
	KeyExchange   string  `json:"key_exchange"`
	FullUs        float64 `json:"full_us"`
	ResumedUs     float64 `json:"resumed_us"`
	BareFullUs    float64 `json:"bare_full_us"`
	BareResumedUs float64 `json:"bare_resumed_us"`
	FullVsBare    float64 `json:"full_vs_bare"`
	HitRate       float64 `json:"resumption_hit_rate"`
	Count         int     `json:"count"`
	Failed        int     `json:"failed"`
}

// Target is one goal of the issue, measured.
type Target struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	Met  bool   `json:"met"`
}

func machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
}

func newRow(name string, p proto, l load, s *stats) Row {
	r := Row{
		Name: name, Proto: string(p), Conns: l.conns, Batch: l.events, Requests: s.requests, Events: s.events,
		Errors: s.errors, FirstError: s.firstErr, Seconds: s.elapsed.Seconds(), NewConns: s.conns, Resumed: s.resumed,
	}
	if !l.newConnEach {
		r.Resumed = 0 // only meaningful with a connection per request
	}
	if s.elapsed > 0 {
		r.EventsPerSec = float64(s.events) / s.elapsed.Seconds()
	}
	if s.events > 0 {
		r.CPUSecPer1kEvents = s.cpu.Seconds() / float64(s.events) * 1000
		r.BrokerCPUSecPer1kEvents = s.brokerCPU.Seconds() / float64(s.events) * 1000
		r.WireBytesPerEvent = float64(s.wireBytes) / float64(s.events)
	}
	p50, p95, p99, mx := s.percentiles()
	r.P50ms, r.P95ms, r.P99ms, r.MaxMs = ms(p50), ms(p95), ms(p99), ms(mx)
	return r
}

// JSON writes the report as indented JSON.
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Table writes the human report.
func (r *Report) Table(w io.Writer) error {
	fmt.Fprintf(w, "logsys bench on %s, %.1f s\n", r.Machine, r.Seconds)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w)
	brokerCol := r.Brokers != ""
	head := "arm\tproto\tconns\tbatch\tevents/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\terrors\tCPU s/1k ev\t"
	if brokerCol {
		head += "broker CPU s/1k ev\t"
	}
	fmt.Fprintln(tw, head+"wire B/ev\tnew conns\tresumed\t")
	for _, x := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%.4f\t",
			x.Name, x.Proto, x.Conns, x.Batch, x.EventsPerSec, x.P50ms, x.P95ms, x.P99ms, x.MaxMs, x.Errors, x.CPUSecPer1kEvents)
		if brokerCol {
			fmt.Fprintf(tw, "%.4f\t", x.BrokerCPUSecPer1kEvents)
		}
		fmt.Fprintf(tw, "%.0f\t%d\t%d\t\n", x.WireBytesPerEvent, x.NewConns, x.Resumed)
	}
	tw.Flush()
	for _, x := range r.Rows {
		if x.FirstError != "" {
			fmt.Fprintf(w, "  %s: first error: %s\n", x.Name, x.FirstError)
		}
	}
	if len(r.Ratios) > 0 {
		fmt.Fprintln(w, "\nratios (throughput, arms interleaved in one run)")
		for _, x := range r.Ratios {
			fmt.Fprintf(w, "  %-44s %6.2fx  (%s / %s)\n", x.Name, x.Value, x.Of, x.To)
		}
	}
	if len(r.Handshakes) > 0 {
		fmt.Fprintln(w, "\nhandshake server CPU (us per handshake; product = tlsx.ServerConfig, bare = crypto/tls with the same keys)")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "leaf key\tkey exchange\tfull\tresumed\tbare full\tbare resumed\tfull/bare\thit rate\tfailed\t")
		for _, h := range r.Handshakes {
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.2f\t%.1f%%\t%d\t\n", h.KeyType, h.KeyExchange,
				h.FullUs, h.ResumedUs, h.BareFullUs, h.BareResumedUs, h.FullVsBare, 100*h.HitRate, h.Failed)
		}
		tw.Flush()
	}
	if s := r.Storm; s != nil {
		fmt.Fprintf(w, "\nreconnect storm: %d clients in %.2f s, %d failed, resumed %.1f%%, p99 %.1f ms, max %.1f ms\n",
			s.Clients, s.Seconds, s.Failed, 100*s.HitRate, s.P99Millis, s.MaxMillis)
		if s.FirstErr != "" {
			fmt.Fprintf(w, "  first error: %s\n", s.FirstErr)
		}
	}
	if len(r.Targets) > 0 {
		fmt.Fprintln(w, "\ntargets")
		for _, t := range r.Targets {
			mark := "MET "
			if !t.Met {
				mark = "MISS"
			}
			fmt.Fprintf(w, "  [%s] %-58s want %-14s got %s\n", mark, t.Name, t.Want, t.Got)
		}
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(w, "\nskipped (duration bound reached): %s\n", strings.Join(r.Skipped, ", "))
	}
	return nil
}
