package roles

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestPrefersMinimal parses Prefer as RFC 7240 writes it.
func TestPrefersMinimal(t *testing.T) {
	cases := []struct {
		headers []string
		want    bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"return=minimal"}, true},
		{[]string{"RETURN=Minimal"}, true},
		{[]string{"return = minimal"}, true},
		{[]string{`return="minimal"`}, true},
		{[]string{"respond-async, return=minimal"}, true},
		{[]string{"respond-async,return=minimal;foo=bar, wait=10"}, true},
		{[]string{"respond-async", "return=minimal"}, true},
		{[]string{"return=representation"}, false},
		{[]string{"return=representation, return=minimal"}, false}, // the first counts
		{[]string{"return=minimal, return=representation"}, true},
		{[]string{"returns=minimal"}, false},
		{[]string{"return=minimalist"}, false},
		{[]string{"handling=lenient; return=minimal"}, false}, // a parameter of handling
		{[]string{"minimal"}, false},
	}
	for _, c := range cases {
		r, _ := http.NewRequest("POST", "/", nil)
		for _, h := range c.headers {
			r.Header.Add("Prefer", h)
		}
		if got := prefersMinimal(r); got != c.want {
			t.Errorf("Prefer %q: minimal %v, want %v", c.headers, got, c.want)
		}
	}
}

// TestMinimalAnswers sends both event routes through the real gateway over
// mutual TLS with and without Prefer: return=minimal and compares the
// answers byte for byte; errors do not change with the preference.
func TestMinimalAnswers(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	one := `{"id":"one-1","message":"m","source":"s"}`
	batch := `{"id":"b-1","message":"m","source":"s"}` + "\n" + `{"id":"b-2","message":"m","source":"s"}` + "\n"
	fullOne := `{"status":"success","data":{"id":"one-1"}}` + "\n"
	fullBatch := `{"status":"success","data":{"accepted":2,"ids":["b-1","b-2"]}}` + "\n"
	bad := `{"status":"error","error":"events[1].message: is required","field":"events[1].message"}` + "\n"
	cases := []struct {
		name, path, ctype, body string
		prefer                  []string
		code                    int
		want, applied           string
	}{
		{"one", "/api/v1/logs", "application/json", one, nil, 202, fullOne, ""},
		{"one minimal", "/api/v1/logs", "application/json", one, []string{"return=minimal"}, 202,
			`{"status":"success","data":{"accepted":1}}` + "\n", "return=minimal"},
		{"one representation", "/api/v1/logs", "application/json", one, []string{"return=representation"}, 202, fullOne, ""},
		{"batch", "/api/v1/logs/batch", "application/x-ndjson", batch, nil, 202, fullBatch, ""},
		{"batch minimal", "/api/v1/logs/batch", "application/x-ndjson", batch, []string{"return=minimal"}, 202,
			`{"status":"success","data":{"accepted":2}}` + "\n", "return=minimal"},
		{"batch async and minimal", "/api/v1/logs/batch", "application/x-ndjson", batch, []string{"respond-async, return=minimal"}, 202,
			`{"status":"success","data":{"accepted":2}}` + "\n", "return=minimal"},
		{"batch in two Prefer headers", "/api/v1/logs/batch", "application/x-ndjson", batch, []string{"respond-async", "Return=Minimal"}, 202,
			`{"status":"success","data":{"accepted":2}}` + "\n", "return=minimal"},
		{"batch representation", "/api/v1/logs/batch", "application/x-ndjson", batch, []string{"return=representation"}, 202, fullBatch, ""},
		{"bad batch minimal", "/api/v1/logs/batch", "application/x-ndjson", `{"message":"m","source":"s"}` + "\n" + `{"source":"s"}`,
			[]string{"return=minimal"}, 400, bad, ""},
	}
	c := p.client("dev", "client")
	for _, tc := range cases {
		req, err := http.NewRequest("POST", p.url(tc.path), strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", tc.ctype)
		for _, h := range tc.prefer {
			req.Header.Add("Prefer", h)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || string(got) != tc.want {
			t.Errorf("%s: got %d %q, want %d %q", tc.name, resp.StatusCode, got, tc.code, tc.want)
		}
		if a := resp.Header.Get("Preference-Applied"); a != tc.applied {
			t.Errorf("%s: Preference-Applied %q, want %q", tc.name, a, tc.applied)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", tc.name, ct)
		}
	}
}
