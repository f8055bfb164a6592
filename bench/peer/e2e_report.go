//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// e2eTable prints the end-to-end phases as a markdown table.
func e2eTable(w io.Writer, rs []e2eResult) {
	fmt.Fprintln(w, "\nend to end: logsys consumer from the Kafka node into PostgreSQL (paced: gateway driven open loop with the consumer running; drain: a backlog made with the consumer stopped)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| phase | events accepted | accepted ev/s | stored ev/s | stored / accepted | lag at load end | caught up after s | rows | lost | consumer CPU us/ev | PostgreSQL CPU us/ev | load 1m |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		ratio, accepted := "-", "-"
		if r.Phase == "paced" {
			accepted = fmt.Sprintf("%.0f", r.AcceptedPerSec)
			if r.AcceptedPerSec > 0 {
				ratio = fmt.Sprintf("%.2fx", r.StoredPerSec/r.AcceptedPerSec)
			}
		}
		fmt.Fprintf(w, "| %s | %d | %s | %.0f | %s | %d | %.1f | %d | %d | %.1f | %.1f | %s |\n",
			r.Phase, r.Accepted, accepted, r.StoredPerSec, ratio, r.LagAtLoadEnd, r.CatchUpSeconds, r.Rows, r.Lost,
			r.ConsumerUsPerEvent, r.PostgresUsPerEvent, r.Load1)
	}
}

// treeCPU is the CPU time of pid and of its live children so far (a
// PostgreSQL postmaster and its backends).
func treeCPU(pid int) (time.Duration, error) {
	total, err := cpuOf(pid)
	if err != nil {
		return 0, err
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil || parentOf(string(b)) != pid {
			continue // gone meanwhile, or not a child
		}
		child, _ := strconv.Atoi(filepath.Base(filepath.Dir(st)))
		if c, err := cpuOf(child); err == nil {
			total += c
		}
	}
	return total, nil
}

// parentOf is the ppid field of a /proc/PID/stat line (after the command
// name, which may hold spaces and parentheses); -1 when unreadable.
func parentOf(stat string) int {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 2 {
		return -1
	}
	p, err := strconv.Atoi(f[1])
	if err != nil {
		return -1
	}
	return p
}
