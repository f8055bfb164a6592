package event

import (
	"encoding/json"
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
	`{"message":"m","source":"s","metadata":{"n":[1e20,1e7,5e-7]}}`,
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
	if fast != 5 {
		t.Errorf("parseFast took %d of the inputs, want 5", fast)
	}
}

// checkParseFast fails when parseFast takes data and decodes it otherwise
// than encoding/json; it reports whether parseFast took it.
func checkParseFast(t *testing.T, data []byte) bool {
	t.Helper()
	got, _, ok := parseFast(data, false, false)
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
	checkScanned(t, data, false)
	return true
}

// checkScanned fails when what parseFast reports as established about
// data is not: check leaves those rules out for events it parsed.
func checkScanned(t *testing.T, data []byte, forwarded bool) {
	t.Helper()
	e, bound, ok := parseFast(data, forwarded, false)
	if !ok {
		return
	}
	if !forwarded {
		checkMetaText(t, data, e, bound)
	}
	for name, v := range map[string]string{"id": e.ID, "message": e.Message, "source": e.Source} {
		if !storableText(v) {
			t.Fatalf("%q: parseFast took %s %q, which is not storable text", data, name, v)
		}
	}
	if e.Metadata == nil {
		return
	}
	if _, native, bad := scan(e.Metadata); !native || bad != "" {
		t.Fatalf("%q: parseFast took metadata that check refuses (native %v, %q)", data, native, bad)
	}
	js, err := appendValue(nil, e.Metadata)
	if err != nil || len(js) > bound {
		t.Fatalf("%q: metadata encodes to %d bytes (%v), above parseFast's bound %d", data, len(js), err, bound)
	}
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

// forwardedInputs are records as the gateway forwards events, and inputs
// parseFast (forwarded) leaves to encoding/json.
var forwardedInputs = []string{
	`{"id":"a","level":"INFO","message":"m","source":"s","timestamp":"2026-01-02T15:04:05.123456789+05:30","identity":"spiffe://x/y"}`,
	`{"id":"a","level":"INFO","message":"m","source":"s","timestamp":"2026-01-02T15:04:05Z","metadata":{"a":[1,"b",null]},"identity":"i","timestamp_filled":true}`,
	`{"id":"a","level":"INFO","message":"m","source":"s","timestamp":"2026-01-02T15:04:05Z","timestamp_filled":false}`,
	`{"message":"m","source":"s","metadata":null}`,
	`{"message":"m","source":"s","timestamp":""}`,
	`{"message":"m","source":"s","timestamp":"2026-01-02T24:00:00Z"}`,
	`{"message":"m","source":"s","timestamp":"2026-01-02T15:04:05+5:30"}`,
	`{"message":"m","source":"s","timestamp":"2026-01-02t15:04:05z"}`,
	`{"message":"m","source":"s","timestamp":null}`,
	`{"message":"m","source":"s","timestamp_filled":null}`,
	`{"message":"m","source":"s","timestamp_filled":1}`,
	`{"message":"m","source":"s","identity":"i","identity":"j"}`,
	`{"message":"m","source":"s","Identity":"i"}`,
	`{"message":"m","source":"s","other_key":"i"}`,
}

func TestParseForwardedAgrees(t *testing.T) {
	t.Parallel()
	fast := 0
	for _, in := range append(forwardedInputs, scanInputs...) {
		if checkParseForwarded(t, []byte(in)) {
			fast++
		}
	}
	if fast != 9 {
		t.Errorf("parseFast (forwarded) took %d of the inputs, want 9", fast)
	}
}

// checkParseForwarded fails when parseFast, forwarded, takes data and
// decodes it otherwise than encoding/json decodes it into an Event; it
// reports whether parseFast took it.
func checkParseForwarded(t *testing.T, data []byte) bool {
	t.Helper()
	got, _, ok := parseFast(data, true, false)
	if !ok {
		return false
	}
	var want Event
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("parseFast (forwarded) took %q, encoding/json refuses it: %v", data, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\nparseFast    %#v\nencoding/json %#v", data, got, want)
	}
	checkScanned(t, data, true)
	return true
}

// FuzzParseForwardedAgrees: whatever parseFast (forwarded) takes,
// encoding/json decodes into the same Event; so DecodeForwarded, the
// consumer's check, answers as it did with encoding/json alone.
func FuzzParseForwardedAgrees(f *testing.F) {
	for _, in := range append(forwardedInputs, scanInputs...) {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkParseForwarded(t, data) })
}

// checkMetaText fails when parseFast with metaText answers otherwise than
// without (e and bound): the same fields, and metadata text that decodes
// to e's metadata.
func checkMetaText(t *testing.T, data []byte, e Event, bound int) {
	t.Helper()
	got, gotBound, ok := parseFast(data, false, true)
	if !ok || gotBound != bound {
		t.Fatalf("%q: parseFast with metaText: ok %v, bound %d; without: bound %d", data, ok, gotBound, bound)
	}
	if got.Metadata != nil {
		t.Fatalf("%q: parseFast with metaText decoded the metadata", data)
	}
	var md map[string]any
	if got.metadataJSON != "" {
		if err := json.Unmarshal([]byte(got.metadataJSON), &md); err != nil {
			t.Fatalf("%q: metadata text %q: %v", data, got.metadataJSON, err)
		}
	}
	if len(md) != 0 || len(e.Metadata) != 0 {
		if !reflect.DeepEqual(md, e.Metadata) {
			t.Fatalf("%q: metadata text %q decodes to %v, want %v", data, got.metadataJSON, md, e.Metadata)
		}
	}
	got.Metadata, got.metadataJSON, e.Metadata = nil, "", nil
	if !reflect.DeepEqual(got, e) {
		t.Fatalf("%q: with metaText %#v, without %#v", data, got, e)
	}
}

// TestScanChecksWhatItDecodes: value without decoding accepts every
// metadata value it decodes, and nothing else.
func TestScanChecksWhatItDecodes(t *testing.T) {
	t.Parallel()
	for _, v := range []string{`{}`, `{"a":1}`, `{ "a" : [ 1 , -0.5e3 , true , false , null , "x\"\n" , { } ] }`,
		`{"a":1e400}`, `{"a":01}`, `{"a":"\u0041"}`, `{"a":"\x"}`, "{\"a\":\"\xff\"}", `{"a":[1,]}`, `{"a":}`, `{"a" 1}`,
		`{"k":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, `[1]`, `"s"`, `null`, `{"a":tru}`, `{"a":-}`, `{"a":1.}`} {
		a := scanner{data: []byte(v), text: v}
		_, vok := a.value(0, true)
		b := scanner{data: []byte(v), text: v}
		got, sok := b.value(0, false)
		if got != nil {
			t.Errorf("%s: value without decoding returned %v", v, got)
		}
		if vok != sok || (vok && (a.i != b.i || a.numbers != b.numbers)) {
			t.Errorf("%s: decoding %v (at %d, %d numbers), checking %v (at %d, %d numbers)", v, vok, a.i, a.numbers, sok, b.i, b.numbers)
		}
	}
}
