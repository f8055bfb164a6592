package store

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Config selects and configures the backend.
type Config struct {
	// DSN selects PostgreSQL: postgres://user@host:port/db?sslmode=verify-full
	// &sslrootcert=...&sslcert=...&sslkey=... (the libpq/pgx connection URL;
	// key=value form is not accepted). Empty selects the embedded store.
	DSN string `mapstructure:"dsn"`
	// DataDir holds the embedded store's file (DataDir/logsys.db); it is
	// created 0700. Required when DSN is empty.
	DataDir string `mapstructure:"data_dir"`
	// MaxConns caps the PostgreSQL pool; 0 keeps pgx's default.
	MaxConns int32 `mapstructure:"max_conns"`
}

// Validate checks the configuration without connecting. Errors name the
// offending key.
func (c Config) Validate() error {
	if c.MaxConns < 0 {
		return errors.New("max_conns: may not be negative")
	}
	if c.DSN == "" {
		if strings.TrimSpace(c.DataDir) == "" {
			return errors.New("data_dir: is required when dsn is empty (embedded store)")
		}
		if strings.ContainsAny(c.DataDir, "?#\x00") {
			return errors.New("data_dir: may not contain '?', '#' or NUL")
		}
		return nil
	}
	u, err := url.Parse(c.DSN)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// The DSN may hold a password: never echo it.
		return errors.New("dsn: must be a postgres:// or postgresql:// URL")
	}
	if _, err := pgxpool.ParseConfig(c.DSN); err != nil {
		return fmt.Errorf("dsn: %w", redact(err, c.DSN))
	}
	return nil
}

// redact keeps a DSN (which may carry a password) out of an error text.
func redact(err error, dsn string) error {
	msg := err.Error()
	if dsn != "" && strings.Contains(msg, dsn) {
		return errors.New(strings.ReplaceAll(msg, dsn, "<dsn>"))
	}
	return err
}
