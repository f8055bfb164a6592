package store

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"logsys/event"
)

// FuzzGatewayAcceptedIsStored: whatever the gateway accepts (event.DecodeFrom
// of a client body), after the hops it takes (the forwarder's encoding, the
// producer's and the consumer's event.DecodeForwarded), every backend stores,
// and reads back as accepted. SQLite always; PostgreSQL when
// LOGSYS_TEST_PG_DSN is set, and then (or when CI is set) it is required.
//
//	go test -run '^$' -fuzz FuzzGatewayAcceptedIsStored -fuzztime 2m ./store/
//
// The seed corpus is testdata/fuzz/FuzzGatewayAcceptedIsStored.
func FuzzGatewayAcceptedIsStored(f *testing.F) {
	f.Add([]byte(`{"message":"m","source":"s"}`))
	f.Add([]byte(`{"id":"01J","level":"warn","message":"héllo","source":"api","timestamp":"2026-01-02T03:04:05.123456789+05:30","metadata":{"a":[1,"x",null,true,{"b":1.5}]}}`))
	stores := map[string]Store{"sqlite": open(f, Config{DataDir: f.TempDir()})}
	if os.Getenv(envPGDSN) != "" || os.Getenv("CI") != "" {
		stores["postgres"] = open(f, pgConfig(f))
	} else {
		f.Logf("SKIPPED the PostgreSQL half: %s not set", envPGDSN)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	n := 0
	f.Fuzz(func(t *testing.T, body []byte) {
		// A fresh sender per input keeps every key new: a repeated id is
		// the subject of the conflict tests, not of this one.
		n++
		identity := fmt.Sprintf("spiffe://logsys.local/dev/fuzz-%d", n)
		ev, err := event.DecodeFrom(body, now, identity)
		if err != nil {
			return // answered 400: nothing to store
		}
		wire, err := json.Marshal([]event.Event{ev}) // the forwarder's batch
		if err != nil {
			t.Fatalf("accepted %q, but the forwarder cannot encode it: %v", body, err)
		}
		var raws []json.RawMessage
		if err := json.Unmarshal(wire, &raws); err != nil || len(raws) != 1 {
			t.Fatalf("accepted %q, forwarded as %s: %v", body, wire, err)
		}
		fwd, err := event.DecodeForwarded(raws[0])
		if err != nil {
			t.Fatalf("accepted %q, but the producer and consumer refuse %s: %v", body, raws[0], err)
		}
		want := Record{Event: ev, ReceivedAt: now}
		want.Timestamp = micro(ev.Timestamp)
		if len(ev.Metadata) == 0 {
			want.Metadata = nil // the wire form omits an empty object
		}
		for name, s := range stores {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if got, err := s.Write(ctx, []Record{{Event: fwd, ReceivedAt: now}}); err != nil || got != 1 {
				t.Fatalf("accepted %q, but %s Write = %d, %v", body, name, got, err)
			}
			got := readBack(t, ctx, s, fwd)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("accepted %q, %s stored\n %#v\nwant %#v", body, name, got, want)
			}
		}
	})
}

// readBack finds the stored record of ev's key.
func readBack(t *testing.T, ctx context.Context, s Store, ev event.Event) Record {
	t.Helper()
	f := Filter{Source: ev.Source, Since: ev.Timestamp, Limit: MaxLimit}
	if until := micro(ev.Timestamp).Add(time.Microsecond); event.ValidTime(until) {
		f.Until = until
	}
	recs, err := s.Query(ctx, f)
	if err != nil {
		t.Fatalf("query %+v: %v", f, err)
	}
	for _, r := range recs {
		if r.Identity == ev.Identity && r.ID == ev.ID {
			return r
		}
	}
	t.Fatalf("record %q from %s not found by %+v", ev.ID, ev.Identity, f)
	return Record{}
}
