package event

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// scanInputs are inputs parseFast takes and inputs it leaves to
// encoding/json.
var scanInputs = []string{
	`{"message":"m","source":"s"}`,
	` {"id":"x","level":"warn","message":"a\"b\\c\/d\n\t\r\b\f","source":"é 世","timestamp":"2026-01-02T15:04:05.123+05:30",` +
		`"metadata":{"a":[1,-0,1.5e3,-2E-2,true,false,null,"s",{},[]],"b":{"c":{"d":"e"}},"a":"dup"}} `,
	`{"message":"m","source":"s","metadata":null,"timestamp":""}`,
	`{}`,
	`{"Message":"m","source":"s"}`,
	`{"message":"m","source":"s","identity":"x"}`,
	`{"message":"m","source":"s","host":"x"}`,
	`{"message":"m","message":"n","source":"s"}`,
	`{"message":null,"source":"s"}`,
	`{"message":"\u00e9","source":"s"}`,
	`{"message":"m","source":"s","metadata":{"n":1e400}}`,
	`{"message":"m","source":"s","metadata":{"n":01}}`,
	`{"message":"m","source":"s","metadata":[1]}`,
	`{"message":"m","source":"s","timestamp":"yesterday"}`,
	`{"message":"m","source":"s"} x`,
	`{"message":"m","source":"s",}`,
	"{\"message\":\"\xff\",\"source\":\"s\"}",
	"{\"message\":\"a\x01\",\"source\":\"s\"}",
	`{"message":"m","source":"s","metadata":{"k":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}`,
	`{"message":"m","source":"s","metadata":{"k":"` + strings.Repeat("x", MaxMetadataBytes) + `"}}`,
}

func TestParseFastAgrees(t *testing.T) {
	t.Parallel()
	fast := 0
	for _, in := range scanInputs {
		if checkParseFast(t, []byte(in)) {
			fast++
		}
	}
	if fast != 4 {
		t.Errorf("parseFast took %d of the inputs, want 4", fast)
	}
}

// checkParseFast fails when parseFast takes data and decodes it otherwise
// than encoding/json; it reports whether parseFast took it.
func checkParseFast(t *testing.T, data []byte) bool {
	t.Helper()
	got, ok := parseFast(data)
	if !ok {
		return false
	}
	want, err := parseJSON(data)
	if err != nil {
		t.Fatalf("parseFast took %q, encoding/json refuses it: %v", data, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\nparseFast    %#v\nencoding/json %#v", data, got, want)
	}
	return true
}

// FuzzParseFastAgrees: whatever parseFast takes, encoding/json decodes the
// same; so DecodeFrom answers as it did with encoding/json alone.
func FuzzParseFastAgrees(f *testing.F) {
	for _, in := range scanInputs {
		f.Add([]byte(in))
	}
	for _, in := range benchInputs {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkParseFast(t, data) })
}

// TestDecodeFromFastAndSlowAgree: DecodeFrom's answer for the inputs is
// the one of encoding/json's parse (ids aside, drawn at random).
func TestDecodeFromFastAndSlowAgree(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, in := range scanInputs {
		got, gerr := DecodeFrom([]byte(in), now, "spiffe://logsys.local/dev/client")
		want, werr := parseJSON([]byte(in))
		if werr == nil {
			want.Identity = "spiffe://logsys.local/dev/client"
			if want.Level == "" {
				want.Level = Info
			}
			want.Fill(now)
			werr = want.Validate()
		}
		if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Errorf("%q: DecodeFrom error %v, encoding/json's %v", in, gerr, werr)
			continue
		}
		if gerr == nil {
			got.ID, want.ID = "", ""
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%q: DecodeFrom %#v, encoding/json's %#v", in, got, want)
			}
		}
	}
}
