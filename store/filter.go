package store

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"logsys/event"
)

// Filter selects records. Zero fields do not filter.
type Filter struct {
	Level  event.Level // exact match
	Source string      // exact match
	Since  time.Time   // timestamp >= Since
	Until  time.Time   // timestamp < Until
	Limit  int         // 0: DefaultLimit; at most MaxLimit
}

// FilterError names the query parameter that made a filter invalid.
type FilterError struct {
	Param  string // level, source, since, until or limit
	Reason string
}

func (e *FilterError) Error() string { return e.Param + ": " + e.Reason }

// Validate checks f strictly, as the query API does: a limit above
// MaxLimit is an error here (Query itself caps it).
func (f Filter) Validate() error {
	if f.Limit > MaxLimit {
		return &FilterError{Param: "limit", Reason: fmt.Sprintf("must be between 0 and %d", MaxLimit)}
	}
	_, err := f.normalize()
	return err
}

// normalize validates f and returns it with Limit resolved and capped.
func (f Filter) normalize() (Filter, error) {
	if f.Level != "" {
		ok := false
		for _, l := range event.Levels {
			ok = ok || f.Level == l
		}
		if !ok {
			return f, &FilterError{Param: "level", Reason: "must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL"}
		}
	}
	if !utf8.ValidString(f.Source) || strings.ContainsRune(f.Source, 0) || len(f.Source) > event.MaxSourceBytes {
		return f, &FilterError{Param: "source", Reason: fmt.Sprintf("must be UTF-8 without NUL, at most %d bytes", event.MaxSourceBytes)}
	}
	for _, p := range []struct {
		name string
		t    time.Time
	}{{"since", f.Since}, {"until", f.Until}} {
		if !p.t.IsZero() && !event.ValidTime(p.t) {
			return f, &FilterError{Param: p.name, Reason: "must be between years 1 and 9999"}
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Since.After(f.Until) {
		return f, &FilterError{Param: "since", Reason: "must not be after until"}
	}
	switch {
	case f.Limit < 0:
		return f, &FilterError{Param: "limit", Reason: fmt.Sprintf("must be between 0 and %d", MaxLimit)}
	case f.Limit == 0:
		f.Limit = DefaultLimit
	case f.Limit > MaxLimit:
		f.Limit = MaxLimit
	}
	return f, nil
}
