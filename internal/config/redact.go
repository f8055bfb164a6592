package config

import (
	"net/url"
	"regexp"
	"strings"
)

// Redacted stands in for a secret in printed configuration.
const Redacted = "<redacted>"

// secret reports whether a key holds a secret that is never printed:
// tokens and passwords. DSNs are printed with their password redacted.
func secret(key string) bool {
	last := key[strings.LastIndexByte(key, '.')+1:]
	return last == "ca_token" || strings.Contains(last, "password") || strings.Contains(last, "secret")
}

// isDSN reports whether a key holds a connection URL that may carry a
// password.
func isDSN(key string) bool {
	last := key[strings.LastIndexByte(key, '.')+1:]
	return last == "dsn" || strings.HasSuffix(last, "_dsn")
}

var kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('[^']*'|\S+)`)

// redact returns value as it may be shown for key.
func redact(key, value string) string {
	switch {
	case value == "":
		return value
	case secret(key):
		return Redacted
	case isDSN(key):
		return redactDSN(value)
	}
	return value
}

// redactDSN hides the password of a postgres:// URL, in its user
// information or its query, and of the key=value form.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return kvPassword.ReplaceAllString(dsn, "${1}"+Redacted)
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") {
			q.Set(k, "REDACTED")
		}
	}
	u.RawQuery = q.Encode()
	return strings.ReplaceAll(u.String(), "REDACTED", Redacted)
}
