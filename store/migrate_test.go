package store

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"logsys/event"
)

// columnsV1 are log_events' columns at schema version 1.
const columnsV1 = "id, level, message, source, timestamp, metadata, producer_identity, kafka_partition, kafka_offset, received_at"

// TestMigrationToKeyPerIdentity fills a database at schema version 1 (key:
// id) the way the previous release wrote it, then opens it: every row is
// kept as it was, and the key is now (identity, id).
func TestMigrationToKeyPerIdentity(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ms, err := migrations(b.name)
		if err != nil || len(ms) < 2 || ms[1].name != "0002_key_per_identity.sql" {
			t.Fatalf("migrations = %v, %v", ms, err)
		}
		legacy := []Record{
			{Event: event.Event{ID: "old-1", Level: event.Warn, Message: "m1", Source: "mig", Timestamp: t0,
				Metadata: map[string]any{"b": 1.0, "a": "<x>"}, Identity: senderA}, KafkaPartition: 2, KafkaOffset: 7, ReceivedAt: t0.Add(time.Second)},
			{Event: event.Event{ID: "old-2", Level: event.Info, Message: "m2", Source: "mig", Timestamp: t0.Add(-time.Second)},
				ReceivedAt: t0},
		}
		// The metadata as an older encoder wrote it: spaces, HTML escapes.
		legacyMD := []any{`{"a": "\u003cx\u003e", "b": 1}`, nil}
		switch b.name {
		case "sqlite":
			s, err := connectSQLiteFile(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.migrate(ctx, ms[:1]); err != nil {
				t.Fatal(err)
			}
			for i, r := range legacy {
				if _, err := s.db.ExecContext(ctx, `INSERT INTO log_events (`+columnsV1+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					r.ID, string(r.Level), r.Message, r.Source, r.Timestamp.UnixMicro(), legacyMD[i], r.Identity,
					r.KafkaPartition, r.KafkaOffset, r.ReceivedAt.UnixMicro()); err != nil {
					t.Fatal(err)
				}
			}
			s.db.Close()
		case "postgres":
			s, err := connectPostgres(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.migrate(ctx, ms[:1]); err != nil {
				t.Fatal(err)
			}
			for i, r := range legacy {
				if _, err := s.pool.Exec(ctx, `INSERT INTO log_events (`+columnsV1+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
					r.ID, string(r.Level), r.Message, r.Source, r.Timestamp, legacyMD[i], r.Identity,
					r.KafkaPartition, r.KafkaOffset, r.ReceivedAt); err != nil {
					t.Fatal(err)
				}
			}
			s.pool.Close()
		}

		s := open(t, cfg)
		got, err := s.(interface {
			versions(context.Context) ([]int, error)
		}).versions(ctx)
		if err != nil || !slices.Equal(got, []int{1, 2, 3}) {
			t.Fatalf("applied migrations = %v, %v; want [1 2 3]", got, err)
		}
		if recs := all(t, s, "mig"); !reflect.DeepEqual(recs, legacy) {
			t.Fatalf("after migration:\n got %#v\nwant %#v", recs, legacy)
		}
		redelivered := legacy[0]
		redelivered.ReceivedAt = t0.Add(time.Hour)
		otherSender := legacy[0]
		otherSender.Identity = senderB
		changed := legacy[1]
		changed.Message = "m2 changed"
		if n, err := s.Write(ctx, []Record{redelivered, otherSender}); err != nil || n != 1 {
			t.Fatalf("redelivery and another sender's record = %d, %v; want 1 new", n, err)
		}
		var ce *ConflictError
		if _, err := s.Write(ctx, []Record{changed}); !errors.As(err, &ce) {
			t.Fatalf("a migrated id with other content: %v; want a ConflictError", err)
		}
	})
}
