package enroll

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// The renewer's decisions, as pure functions of the time and of u, the
// random draw in [0,1) that spreads renewals and retries.

// renewalTime is when a certificate valid from notBefore to notAfter is
// renewed: after fraction of its lifetime, earlier by up to jitter of it.
func renewalTime(notBefore, notAfter time.Time, fraction, jitter, u float64) time.Time {
	life := notAfter.Sub(notBefore)
	return notBefore.Add(time.Duration(float64(life) * (fraction - jitter*u)))
}

// minRetryCap is the least a tenth of a very short lifetime caps a retry at.
const minRetryCap = 100 * time.Millisecond

// backoff is the wait after the given number of consecutive failures:
// retryMin doubled per failure, capped by retryMax and by a tenth of the
// certificate's lifetime (life, zero when there is no certificate), then
// spread by ±20%.
func backoff(failures int, retryMin, retryMax, life time.Duration, u float64) time.Duration {
	limit := retryMax
	if life > 0 {
		limit = min(limit, max(life/10, minRetryCap))
	}
	d := min(retryMin, limit)
	for i := 1; i < failures && d < limit; i++ {
		d = min(2*d, limit)
	}
	return time.Duration(float64(d) * (0.8 + 0.4*u))
}

// health says why a role holding leaf (nil: none yet) is not healthy at
// now, given the last renewal error and the number of consecutive
// failures: no certificate, an expired one, or renewal failing with less
// than a sixth of the lifetime left, so that health goes DOWN well before
// the certificate expires.
func health(now time.Time, leaf *x509.Certificate, failures int, lastErr error) error {
	if leaf == nil {
		if lastErr == nil {
			return errors.New("no certificate yet")
		}
		return fmt.Errorf("no certificate yet: %w", lastErr)
	}
	if !now.Before(leaf.NotAfter) {
		return fmt.Errorf("certificate expired at %s: %v", leaf.NotAfter.UTC().Format(time.RFC3339), lastErr)
	}
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	if lastErr != nil && leaf.NotAfter.Sub(now) < life/6 {
		return fmt.Errorf("renewal failing (%d attempts), certificate expires at %s: %w",
			failures, leaf.NotAfter.UTC().Format(time.RFC3339), lastErr)
	}
	return nil
}
