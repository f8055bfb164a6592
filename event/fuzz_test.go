package event

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// FuzzDecodeAgreesWithNormalize: what Decode accepts (its metadata size
// judged without encoding where possible), Normalize encodes within the
// limit (in encoding/json's form, which stores kept before Normalize
// encoded without reflection), and the forwarder can encode and
// DecodeForwarded accept. Fast, no store; the store's
// FuzzGatewayAcceptedIsStored adds the backends.
func FuzzDecodeAgreesWithNormalize(f *testing.F) {
	for _, in := range benchInputs {
		f.Add(in)
	}
	f.Add([]byte(`{"message":"m","source":"s","metadata":{"a":[1e20,-0,"<\u2028>",{"b":null}]}}`))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := DecodeFrom(body, now, "spiffe://logsys.local/dev/client")
		if err != nil {
			return
		}
		md, err := ev.Normalize()
		if err != nil {
			t.Fatalf("Decode accepted %q, Normalize refuses it: %v", body, err)
		}
		if ev.Metadata != nil {
			var buf bytes.Buffer
			if want, reason := encodeMetadata(&buf, ev.Metadata); reason != "" || !bytes.Equal(md, want) {
				t.Fatalf("Normalize(%q) = %s; encoding/json: %s %s", body, md, want, reason)
			}
		}
		wire, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("Decode accepted %q, it cannot be encoded: %v", body, err)
		}
		if _, err := DecodeForwarded(wire); err != nil {
			t.Fatalf("Decode accepted %q, DecodeForwarded refuses %s: %v", body, wire, err)
		}
	})
}

// FuzzDecodeToForwardAgrees: DecodeToForward accepts and refuses what
// DecodeFrom does, with the same error, and the consumer decodes what
// the gateway forwards from either into the same event.
func FuzzDecodeToForwardAgrees(f *testing.F) {
	for _, in := range scanInputs {
		f.Add([]byte(in))
	}
	for _, in := range toForwardInputs {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkDecodeToForward(t, body) })
}

// toForwardInputs are metadata forms the text path keeps as they came.
var toForwardInputs = []string{
	`{"message":"m","source":"s","metadata":{ "b" : [ 1 , 2.50 , "x\"\\\n" ] ,
	 "a" : { "c" : null } , "a" : true }}`,
	`{"message":"m","source":"s","metadata":{ }}`,
	`{"message":"m","source":"s","metadata":{"d":"\/<>&` + "\u2028" + `"}}`,
	`{"message":"m","source":"s","metadata":null}`,
	`{"message":"m","source":"s","metadata":[]}`,
	`{"message":"m","source":"s","metadata":{"n":1e20}}`,
	`{"message":"m","source":"s","metadata":{"q":"say \"hi there\" \\ and \\\" go" , "r" : "x"}}`,
}

func TestDecodeToForwardAgrees(t *testing.T) {
	t.Parallel()
	for _, in := range append(append([]string{}, scanInputs...), toForwardInputs...) {
		checkDecodeToForward(t, []byte(in))
	}
	for _, in := range benchInputs {
		checkDecodeToForward(t, in)
	}
}

func checkDecodeToForward(t *testing.T, body []byte) {
	t.Helper()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const id = "spiffe://logsys.local/dev/client"
	want, werr := DecodeFrom(body, now, id)
	got, gerr := DecodeToForward(body, now, id)
	if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
		t.Fatalf("%q: DecodeFrom: %v; DecodeToForward: %v", body, werr, gerr)
	}
	if werr != nil {
		return
	}
	got.ID = want.ID // each drew its own
	gw, err := got.AppendJSON(nil)
	if err != nil {
		t.Fatalf("%q: encode: %v", body, err)
	}
	ww, err := want.AppendJSON(nil)
	if err != nil {
		t.Fatalf("%q: encode: %v", body, err)
	}
	if bytes.ContainsAny(gw, "\n\r\t") {
		t.Fatalf("%q: forwarded %s holds white space", body, gw)
	}
	gd, gerr := DecodeForwarded(gw)
	wd, werr := DecodeForwarded(ww)
	if gerr != nil || werr != nil {
		t.Fatalf("%q: DecodeForwarded: %v (text path %s), %v", body, gerr, gw, werr)
	}
	if !reflect.DeepEqual(gd, wd) {
		t.Fatalf("%q: the consumer decodes\n%s\nas %#v\nand\n%s\nas %#v", body, gw, gd, ww, wd)
	}
}
