package config

import (
	"fmt"
	"strings"
)

// Source is where an effective value came from.
type Source string

// The sources, lowest precedence first.
const (
	SourceDefault Source = "default"
	SourceFile    Source = "file"
	SourceEnv     Source = "env"
	SourceFlag    Source = "flag"
)

// Origin is the source of one value and which file, variable or flag it
// was.
type Origin struct {
	Source Source
	Name   string // the file's path, the variable or the --flag
}

func (o Origin) String() string {
	if o.Source == SourceDefault || o.Source == "" {
		return "default"
	}
	return string(o.Source) + " " + o.Name
}

// where is the origin as the end of an error message.
func (o Origin) where() string {
	switch o.Source {
	case SourceFile:
		return " (in " + o.Name + ")"
	case SourceEnv, SourceFlag:
		return " (from " + o.Name + ")"
	case SourceDefault:
		return " (the default)"
	}
	return ""
}

// Error is one refused setting: the key (or variable) and where it was set.
type Error struct {
	Key    string
	Origin Origin
	Msg    string
	Err    error // the underlying error, if any
}

func (e *Error) Error() string {
	if e.Key == "" {
		return e.Msg + e.Origin.where()
	}
	return e.Key + ": " + e.Msg + e.Origin.where()
}

func (e *Error) Unwrap() error { return e.Err }

// Errors are every refused setting of one Load or Validate.
type Errors []*Error

func (es Errors) Error() string {
	if len(es) == 1 {
		return "configuration: " + es[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "configuration: %d errors:", len(es))
	for _, e := range es {
		b.WriteString("\n  " + e.Error())
	}
	return b.String()
}

// Unwrap lets errors.As find each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// suggest returns "; did you mean X?" for the candidate closest to s, if
// one is close enough to be a typo.
func suggest(s string, candidates []string) string {
	best, bestD := "", 4
	for _, c := range candidates {
		if d := distance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return "; did you mean " + best + "?"
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
