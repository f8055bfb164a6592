package store

import (
	"fmt"
	"strings"
	"time"
)

// columns lists log_events' columns in the order rows are written and read.
const columns = "id, level, message, source, timestamp, metadata, producer_identity, kafka_partition, kafka_offset, received_at, timestamp_filled"

// selectSQL builds the query for a normalised filter. placeholder(n) is
// the dialect's n-th parameter marker (1-based); timeArg converts a bound
// time to the dialect's column representation.
func selectSQL(f Filter, placeholder func(int) string, timeArg func(time.Time) any) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, placeholder(len(args))))
	}
	if f.Level != "" {
		add("level = %s", string(f.Level))
	}
	if f.Source != "" {
		add("source = %s", f.Source)
	}
	if !f.Since.IsZero() {
		add("timestamp >= %s", timeArg(micro(f.Since)))
	}
	if !f.Until.IsZero() {
		add("timestamp < %s", timeArg(micro(f.Until)))
	}
	var b strings.Builder
	b.WriteString("SELECT " + columns + " FROM log_events")
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	args = append(args, f.Limit)
	b.WriteString(" ORDER BY timestamp DESC, id DESC, producer_identity DESC LIMIT " + placeholder(len(args)))
	return b.String(), args
}
