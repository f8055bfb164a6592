package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"logsys/event"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		key  string // "" when valid
	}{
		{"embedded", Config{DataDir: "/tmp/x"}, ""},
		{"postgres", Config{DSN: "postgres://logsys@127.0.0.1:5432/logsys?sslmode=verify-full"}, ""},
		{"postgresql scheme", Config{DSN: "postgresql://logsys@localhost/logsys"}, ""},
		{"nothing", Config{}, "data_dir"},
		{"blank data dir", Config{DataDir: "  "}, "data_dir"},
		{"data dir with ?", Config{DataDir: "/tmp/a?b"}, "data_dir"},
		{"key=value dsn", Config{DSN: "host=localhost user=logsys"}, "dsn"},
		{"mysql", Config{DSN: "mysql://root@localhost/db"}, "dsn"},
		{"bad port", Config{DSN: "postgres://logsys@localhost:99999/logsys"}, "dsn"},
		{"negative pool", Config{DataDir: "/tmp/x", MaxConns: -1}, "max_conns"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.key == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.key != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.key+":")):
				t.Fatalf("Validate = %v; want an error naming %s", err, tc.key)
			}
		})
	}
}

func TestConfigValidateHidesPassword(t *testing.T) {
	err := Config{DSN: "postgres://u:s3cret@localhost:99999/db"}.Validate()
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Validate = %v; want an error without the password", err)
	}
}

func TestFilterValidate(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name  string
		f     Filter
		param string // "" when valid
	}{
		{"zero", Filter{}, ""},
		{"full", Filter{Level: event.Warn, Source: "api", Since: now.Add(-time.Hour), Until: now, Limit: MaxLimit}, ""},
		{"since equals until", Filter{Since: now, Until: now}, ""},
		{"negative limit", Filter{Limit: -1}, "limit"},
		{"limit above max", Filter{Limit: MaxLimit + 1}, "limit"},
		{"since after until", Filter{Since: now, Until: now.Add(-time.Second)}, "since"},
		{"lowercase level", Filter{Level: "warn"}, "level"},
		{"unknown level", Filter{Level: "LOUD"}, "level"},
		{"NUL in source", Filter{Source: "a\x00"}, "source"},
		{"source too long", Filter{Source: strings.Repeat("s", event.MaxSourceBytes+1)}, "source"},
		{"since year 0", Filter{Since: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)}, "since"},
		{"until year 10000", Filter{Until: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "until"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f.Validate()
			var fe *FilterError
			switch {
			case tc.param == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.param != "" && (!errors.As(err, &fe) || fe.Param != tc.param):
				t.Fatalf("Validate = %v; want a FilterError for %s", err, tc.param)
			}
		})
	}
}

func TestMigrationsWellFormed(t *testing.T) {
	for _, dialect := range []string{"postgres", "sqlite"} {
		ms, err := migrations(dialect)
		if err != nil || len(ms) == 0 {
			t.Fatalf("%s: %d migrations, %v", dialect, len(ms), err)
		}
		for i, m := range ms {
			if m.version != i+1 {
				t.Errorf("%s: migration %s has version %d, want %d (no gaps)", dialect, m.name, m.version, i+1)
			}
		}
	}
	if _, err := migrations("oracle"); err == nil {
		t.Fatal("unknown dialect accepted")
	}
}

func TestSQLiteFilePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "store")
	s := open(t, Config{DataDir: dir})
	if _, err := s.Write(context.Background(), recs("perm", 1, t0)); err != nil {
		t.Fatal(err)
	}
	checks := map[string]os.FileMode{dir: 0o700, filepath.Join(dir, SQLiteFile): 0o600, filepath.Join(dir, SQLiteFile+"-wal"): 0o600}
	for path, want := range checks {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
}

func TestSQLiteReopenKeepsData(t *testing.T) {
	cfg := Config{DataDir: t.TempDir()}
	s := open(t, cfg)
	if _, err := s.Write(context.Background(), recs("reopen", 4, t0)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := open(t, cfg)
	if got := len(all(t, s2, "reopen")); got != 4 {
		t.Fatalf("after reopen: %d records, want 4", got)
	}
}

func TestRecordValidate(t *testing.T) {
	if err := recs("ok", 1, t0)[0].Validate(); err != nil {
		t.Fatalf("valid record: %v", err)
	}
	for _, tc := range invalidRecords {
		r := recs("v", 1, t0)[0]
		tc.bad(&r)
		var fe *event.FieldError
		if err := r.Validate(); !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: Validate = %v; want a FieldError for %s", tc.name, err, tc.field)
		}
	}
}
