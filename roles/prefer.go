package roles

import (
	"net/http"
	"strings"
)

// prefersMinimal reports whether the request asks for the minimal answer
// (RFC 7240 section 4.2, "Prefer: return=minimal"). Preferences are
// comma-separated, possibly over several Prefer headers, each a token
// (case-insensitive) with an optional "=value" (possibly quoted) and
// optional ";parameters", with optional white space around every part.
// When return is given more than once, the first counts (section 2).
func prefersMinimal(r *http.Request) bool {
	for _, h := range r.Header.Values("Prefer") {
		for pref := range strings.SplitSeq(h, ",") {
			pref, _, _ = strings.Cut(pref, ";") // parameters do not matter here
			name, value, _ := strings.Cut(pref, "=")
			if !strings.EqualFold(strings.TrimSpace(name), "return") {
				continue
			}
			value = strings.TrimSpace(value)
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			return strings.EqualFold(value, "minimal")
		}
	}
	return false
}

// applyMinimal notes on the answer that the minimal answer was given.
func applyMinimal(w http.ResponseWriter) {
	w.Header().Set("Preference-Applied", "return=minimal")
}
