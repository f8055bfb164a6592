//go:build linux

package main

import (
	"context"
	"fmt"
	"time"
)

// measurement is one arm of one round.
type measurement struct {
	System, Shape   string
	Round           int
	Load1           string // 1-minute load average when the arm started
	Requests, OK    int64
	Events          int64
	Seconds         float64
	EventsPerSec    float64
	P50ms, P99ms    float64
	MaxMs           float64
	FirstError      string
	AppCPU          map[string]float64 // seconds per process
	AppUsPerEvent   float64
	KafkaUsPerEvent float64
	LoadgenUsPerEv  float64
	// OtherCores is the machine's busy CPU during the arm not used by the
	// system, the broker or the load generator, in cores: other work.
	OtherCores float64
	Broker     counters // JMX deltas (produce requests, records, bytes)
	Producer   counters // logsys producer metric deltas
}

type snap struct {
	procs       map[string]time.Duration
	kafka       time.Duration
	busy, total time.Duration
	at          time.Time
	jmx         counters
	producer    counters
}

func (b *harness) snapshot(ctx context.Context, s *system, first bool) (snap, error) {
	var sn snap
	var err error
	read := func() error {
		if sn.jmx, err = b.jmx.snapshot(); err != nil {
			return err
		}
		if s.metrics != "" {
			if sn.producer, err = scrape(ctx, b.scrape, s.metrics, producerMetrics); err != nil {
				return err
			}
		}
		return nil
	}
	// Counters are read outside the CPU window.
	if first {
		if err := read(); err != nil {
			return sn, err
		}
	}
	sn.procs = map[string]time.Duration{}
	for _, p := range s.procs {
		if sn.procs[p.name], err = cpuOf(p.pid()); err != nil {
			return sn, err
		}
	}
	if b.o.kafkaPID > 0 {
		if sn.kafka, err = cpuOf(b.o.kafkaPID); err != nil {
			return sn, err
		}
	}
	if sn.busy, sn.total, err = machineCPU(); err != nil {
		return sn, err
	}
	sn.at = time.Now()
	if !first {
		err = read()
	}
	return sn, err
}

// measure runs one arm: system sys under shape sh for the run's duration.
func (b *harness) measure(ctx context.Context, sys string, sh shape, round int) (measurement, error) {
	s := b.systems[sys]
	for _, p := range s.procs {
		if err := p.exited(); err != nil {
			return measurement{}, err
		}
	}
	t, err := targetFor(sys, sh, s.addr, b.o.logsysAnswer)
	if err != nil {
		return measurement{}, err
	}
	m := measurement{System: sys, Shape: sh.name, Round: round, Load1: loadAvg(), AppCPU: map[string]float64{}}
	before, err := b.snapshot(ctx, s, true)
	if err != nil {
		return m, err
	}
	res, err := b.gen.attack(ctx, fmt.Sprintf("%s-%s-%d", sys, sh.name, round), t, sh.workers, b.o.duration)
	if err != nil {
		return m, err
	}
	after, err := b.snapshot(ctx, s, false)
	if err != nil {
		return m, err
	}
	m.Requests, m.OK = res.Requests, res.ok()
	m.Events = m.OK * int64(sh.batch)
	m.Seconds = res.seconds()
	if m.Seconds > 0 {
		m.EventsPerSec = float64(m.Events) / m.Seconds
	}
	m.P50ms, m.P99ms, m.MaxMs = ms(res.Latencies.P50), ms(res.Latencies.P99), ms(res.Latencies.Max)
	if len(res.Errors) > 0 {
		m.FirstError = res.Errors[0]
	}
	var app time.Duration
	for name, c := range after.procs {
		d := c - before.procs[name]
		m.AppCPU[name] = d.Seconds()
		app += d
	}
	kafka := after.kafka - before.kafka
	if m.Events > 0 {
		ev := float64(m.Events)
		m.AppUsPerEvent = us(app) / ev
		m.KafkaUsPerEvent = us(kafka) / ev
		m.LoadgenUsPerEv = us(res.LoadgenCPU) / ev
	}
	if span := after.at.Sub(before.at).Seconds(); span > 0 {
		busy := (after.busy - before.busy).Seconds()
		ours := (app + kafka + res.LoadgenCPU).Seconds()
		m.OtherCores = max(busy-ours, 0) / span
	}
	m.Broker = after.jmx.sub(before.jmx)
	if after.producer != nil {
		m.Producer = after.producer.sub(before.producer)
	}
	return m, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
