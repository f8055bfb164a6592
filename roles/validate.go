package roles

import "fmt"

// limit is one numeric setting checked by positive or notNegative.
type limit struct {
	key string
	v   int64
}

// positive reports each limit that is zero or negative, naming its key.
func positive(ls ...limit) []error {
	var errs []error
	for _, l := range ls {
		if l.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive", l.key))
		}
	}
	return errs
}

// notNegative reports each limit below zero, naming its key.
func notNegative(ls ...limit) []error {
	var errs []error
	for _, l := range ls {
		if l.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative", l.key))
		}
	}
	return errs
}
