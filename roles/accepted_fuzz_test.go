package roles

import (
	"encoding/json"
	"testing"
)

// FuzzAppendJSONString: appendJSONString writes what json.Marshal writes,
// for every string (the seeds cover each byte the table refuses).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "0b9a3f5e-6a1f-7c1e-9d7a-2f1c3b4d5e6f", `a"b\c`, "<&>", "caf\u00e9",
		"line\u2028sep", "\x7f", "\x1f", " ", "~", "bad\xffutf8", "tab\tnl\n"} {
		f.Add(s)
	}
	for c := range 256 {
		f.Add("id-" + string(rune(c)) + string([]byte{byte(c)}))
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("appendJSONString(%q) = %q, want %q", s, got[1:], want)
		}
	})
}
