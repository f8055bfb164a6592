// Package cfgerr owns the one convention by which configuration errors name
// their key: every error a Validate method returns starts with the key path
// it is about, relative to the struct validated ("addr: is required",
// "tls.env: ..."). Under nests such errors below a section, so that the
// configuration tree can report full paths ("gateway.tls.env: ...").
package cfgerr

import (
	"errors"
	"fmt"
	"regexp"
)

var keyed = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*: `)

// Split flattens errors.Join trees into their leaves, in order.
func Split(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, Split(e)...)
	}
	return out
}

// Key returns the key path an error names and the rest of its text.
func Key(err error) (key, rest string, ok bool) {
	msg := err.Error()
	loc := keyed.FindStringIndex(msg)
	if loc == nil {
		return "", msg, false
	}
	return msg[:loc[1]-2], msg[loc[1]:], true
}

// Under puts every error of err below key: "env: x" becomes "tls.env: x",
// and an error that names no key becomes "tls: ...". The originals stay
// reachable with errors.Is and errors.As. Under(key, nil) is nil.
func Under(key string, err error) error {
	var out []error
	for _, e := range Split(err) {
		if _, _, ok := Key(e); ok {
			out = append(out, fmt.Errorf("%s.%w", key, e))
		} else {
			out = append(out, fmt.Errorf("%s: %w", key, e))
		}
	}
	return errors.Join(out...)
}
