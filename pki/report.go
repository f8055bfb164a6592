package pki

import (
	"fmt"
	"strings"
	"time"
)

// Op is what an operation did to one file.
type Op string

// Operations recorded in a Report.
const (
	OpCreated  Op = "created"
	OpKept     Op = "kept"
	OpReplaced Op = "replaced"
	OpRemoved  Op = "removed"
)

// Action is one file and what happened to it. Path is relative to the PKI
// directory.
type Action struct {
	Path   string `json:"path"`
	Op     Op     `json:"op"`
	Reason string `json:"reason,omitempty"`
}

// Report lists every file an operation looked at, in order.
type Report struct {
	Actions []Action `json:"actions"`
}

func (r *Report) add(l Layout, path string, op Op, reason string) {
	r.Actions = append(r.Actions, Action{Path: l.rel(path), Op: op, Reason: reason})
}

// Count returns how many actions had op.
func (r Report) Count(op Op) int {
	n := 0
	for _, a := range r.Actions {
		if a.Op == op {
			n++
		}
	}
	return n
}

// Find returns the action on path (relative to the PKI directory).
func (r Report) Find(path string) (Action, bool) {
	for i := len(r.Actions) - 1; i >= 0; i-- {
		if r.Actions[i].Path == path {
			return r.Actions[i], true
		}
	}
	return Action{}, false
}

// String renders one line per file: "created  dev/gateway/cert.pem".
func (r Report) String() string {
	var b strings.Builder
	for _, a := range r.Actions {
		fmt.Fprintf(&b, "%-9s %s", a.Op, a.Path)
		if a.Reason != "" {
			fmt.Fprintf(&b, " (%s)", a.Reason)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func clock(now func() time.Time) time.Time {
	if now == nil {
		return time.Now()
	}
	return now()
}
