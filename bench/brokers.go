package bench

import (
	"fmt"
	"net"
	"slices"
	"strconv"
)

// findBrokers returns the processes of the --brokers that listen on a
// loopback address of this machine, for their CPU; brokers elsewhere are
// noted as not measured.
func (r *runner) findBrokers() []int {
	var pids []int
	for _, b := range r.cfg.Brokers {
		host, p, _ := net.SplitHostPort(b)
		port, err := strconv.Atoi(p)
		ip := net.ParseIP(host)
		if err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("broker %s is not on loopback: its CPU is not measured", b))
			continue
		}
		found, err := ListenerPIDs(port)
		if err != nil {
			r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("broker %s: CPU not measured: %v", b, err))
			continue
		}
		for _, pid := range found {
			if !slices.Contains(pids, pid) {
				pids = append(pids, pid)
			}
		}
	}
	if len(pids) > 0 {
		r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("broker CPU read from /proc of pid(s) %v", pids))
	}
	return pids
}
