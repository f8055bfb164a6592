package ca

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"logsys/pki"
	"logsys/spiffeid"
)

// Token lifetimes.
const (
	DefaultTokenTTL = 15 * time.Minute
	MaxTokenTTL     = 7 * 24 * time.Hour
	tokenPrefix     = "lst"
	tokenBytes      = 32 // 256 bits of randomness
)

// TokenRecord is what the CA stores about a bootstrap token: never the
// token itself, only its SHA-256 (the file name).
type TokenRecord struct {
	Env     string    `json:"env"`
	Name    string    `json:"name"`
	Hosts   []string  `json:"hosts,omitempty"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Used    time.Time `json:"used,omitzero"`
}

// TokenOptions configures NewToken.
type TokenOptions struct {
	Dir   string   // PKI directory
	Env   string   // environment the token is bound to
	Name  string   // workload name the token is bound to
	Hosts []string // extra SANs (DNS names or IP literals) of the certificate
	TTL   time.Duration
	Now   func() time.Time
}

// tokenDirs are pki.Layout's TokensPending and TokensUsed; a token's
// record lives in pending until a bootstrap claims it by renaming it into
// used. The rename is atomic, so a token is spent at most once even when
// two requests race for it.
func tokenDirs(dir, env string) (pending, used string) {
	l := pki.Layout{Dir: dir}
	return l.TokensPending(env), l.TokensUsed(env)
}

// NewToken creates a single-use bootstrap token for env/name, stores its
// hash with the binding and expiry, and returns the token. The token is
// shown once; it cannot be recovered from the store.
func NewToken(opts TokenOptions) (string, TokenRecord, error) {
	now := clock(opts.Now)
	if opts.TTL == 0 {
		opts.TTL = DefaultTokenTTL
	}
	switch {
	case opts.TTL < 0 || opts.TTL > MaxTokenTTL:
		return "", TokenRecord{}, fmt.Errorf("new token: ttl %v outside (0, %v]", opts.TTL, MaxTokenTTL)
	case spiffeid.ValidateEnv(opts.Env) != nil:
		return "", TokenRecord{}, fmt.Errorf("new token: invalid env %q", opts.Env)
	case spiffeid.ValidateName(opts.Name) != nil:
		return "", TokenRecord{}, fmt.Errorf("new token: invalid name %q", opts.Name)
	case spiffeid.ValidateWorkloadName(opts.Name) != nil:
		return "", TokenRecord{}, fmt.Errorf("new token: name %q is reserved for the CA itself", CAName)
	}
	if _, err := os.Stat(pki.Layout{Dir: opts.Dir}.CACert(opts.Env)); err != nil {
		return "", TokenRecord{}, fmt.Errorf("new token: environment %q is not initialised in %s: %w", opts.Env, opts.Dir, err)
	}
	secret := make([]byte, tokenBytes)
	if _, err := rand.Read(secret); err != nil {
		return "", TokenRecord{}, fmt.Errorf("new token: %w", err)
	}
	tok := tokenPrefix + "." + opts.Env + "." + base64.RawURLEncoding.EncodeToString(secret)
	rec := TokenRecord{Env: opts.Env, Name: opts.Name, Hosts: opts.Hosts, Created: now.UTC(), Expires: now.Add(opts.TTL).UTC()}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return "", TokenRecord{}, fmt.Errorf("new token: %w", err)
	}
	pending, _ := tokenDirs(opts.Dir, opts.Env)
	pruneExpired(pending, now)
	if err := pki.WriteFile(opts.Dir, filepath.Join(pending, tokenHash(tok)+".json"), append(data, '\n'), pki.SecretPerm); err != nil {
		return "", TokenRecord{}, fmt.Errorf("new token: %w", err)
	}
	return tok, rec, nil
}

func tokenHash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// tokenEnv returns the environment a well-formed token names.
func tokenEnv(tok string) (string, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] != tokenPrefix || spiffeid.ValidateEnv(parts[1]) != nil {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != tokenBytes {
		return "", false
	}
	return parts[1], true
}

// consumeToken spends tok for env: it must be well formed, bound to env,
// unused and unexpired. The record is claimed before the expiry check, so
// any presented token is spent by its first use.
func consumeToken(dir, env, tok string, now time.Time) (TokenRecord, error) {
	tokEnv, ok := tokenEnv(tok)
	if !ok {
		return TokenRecord{}, refuse(ReasonTokenMalformed, "token is not a logsys bootstrap token")
	}
	if tokEnv != env {
		return TokenRecord{}, refuse(ReasonWrongEnv, "token is for env %s, this CA serves %s", tokEnv, env)
	}
	pending, used := tokenDirs(dir, env)
	name := tokenHash(tok) + ".json"
	if err := os.MkdirAll(used, pki.DirPerm); err != nil {
		return TokenRecord{}, fmt.Errorf("token store: %w", err)
	}
	err := os.Rename(filepath.Join(pending, name), filepath.Join(used, name))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(filepath.Join(used, name)); serr == nil {
			return TokenRecord{}, refuse(ReasonTokenUsed, "token was already used")
		}
		return TokenRecord{}, refuse(ReasonTokenUnknown, "token is unknown")
	}
	if err != nil {
		return TokenRecord{}, fmt.Errorf("token store: claim: %w", err)
	}
	data, err := os.ReadFile(filepath.Join(used, name))
	if err != nil {
		return TokenRecord{}, fmt.Errorf("token store: %w", err)
	}
	var rec TokenRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return TokenRecord{}, fmt.Errorf("token store: record %s: %w", name, err)
	}
	rec.Used = now.UTC()
	if out, err := json.MarshalIndent(rec, "", "  "); err == nil {
		_ = pki.WriteFile(dir, filepath.Join(used, name), append(out, '\n'), pki.SecretPerm) // best effort: the rename already spent it
	}
	switch {
	case rec.Env != env:
		return TokenRecord{}, refuse(ReasonWrongEnv, "token is bound to env %s, this CA serves %s", rec.Env, env)
	case !now.Before(rec.Expires):
		return TokenRecord{}, refuse(ReasonTokenExpired, "token expired at %s", rec.Expires.Format(time.RFC3339))
	case spiffeid.ValidateWorkloadName(rec.Name) != nil:
		return TokenRecord{}, refuse(ReasonIdentity, "token names %q, which cannot be issued", rec.Name)
	}
	return rec, nil
}

// pruneExpired removes pending tokens that expired more than a day ago.
func pruneExpired(pending string, now time.Time) {
	entries, err := os.ReadDir(pending)
	if err != nil {
		return
	}
	for _, de := range entries {
		p := filepath.Join(pending, de.Name())
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var rec TokenRecord
		if json.Unmarshal(data, &rec) == nil && now.Sub(rec.Expires) > 24*time.Hour {
			_ = os.Remove(p)
		}
	}
}

func clock(now func() time.Time) time.Time {
	if now == nil {
		return time.Now()
	}
	return now()
}
