package dashboards

import "regexp"

var (
	// quoted matches PromQL string literals, whose contents are label
	// values or regexps, not metric names.
	quoted = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	// labelLists matches selectors' matchers and the label lists of
	// aggregations and vector matching, which name labels, not metrics.
	labelLists = regexp.MustCompile(`\{[^}]*\}|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	// logsysName matches a logsys metric name as a whole identifier.
	logsysName = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_:])(logsys_[a-zA-Z0-9_:]*[a-zA-Z0-9_])`)
)

// metricNamesIn returns the logsys_* metric names referenced in a PromQL
// expression, in order of appearance, ignoring string literals and label
// names.
func metricNamesIn(expr string) []string {
	bare := quoted.ReplaceAllString(expr, `""`)
	bare = labelLists.ReplaceAllString(bare, " ")
	var out []string
	for _, m := range logsysName.FindAllStringSubmatch(bare, -1) {
		out = append(out, m[1])
	}
	return out
}
