package event

import (
	"bytes"
	"encoding/json"
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
