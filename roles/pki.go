package roles

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"logsys/pki"
)

// ensurePKI creates the PKI under dir on first start and, on later starts,
// fills in or renews whatever is missing or stale (pki.Init is idempotent).
func ensurePKI(ctx context.Context, dir, trustDomain string, log *slog.Logger) error {
	rep, err := pki.Init(ctx, pki.InitOptions{Dir: dir, TrustDomain: trustDomain})
	if err != nil {
		return fmt.Errorf("all: prepare pki in %s: %w", dir, err)
	}
	created, replaced := rep.Count(pki.OpCreated), rep.Count(pki.OpReplaced)
	if created+replaced > 0 {
		log.Info("pki prepared", "dir", dir, "created", created, "replaced", replaced, "kept", rep.Count(pki.OpKept))
	}
	for _, a := range rep.Actions {
		if a.Op == pki.OpReplaced {
			log.Info("pki file replaced", "path", a.Path, "reason", a.Reason)
		}
	}
	return nil
}

// crlRefreshInterval is how often `logsys all` without its CA checks the
// environment's CRLs; they are re-signed at half of their 7-day life.
const crlRefreshInterval = time.Hour

// keepCRLsFresh re-signs env's CRLs at half their life until ctx ends, so
// that a long-running `logsys all` on PKI files never reaches a CRL's
// nextUpdate (with use_ca the CA does it).
func keepCRLsFresh(ctx context.Context, dir, env string, log *slog.Logger) {
	t := time.NewTicker(crlRefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rep, err := pki.RefreshCRLs(ctx, dir, env, time.Now())
		if err != nil {
			log.Error("crl not re-signed; roles refuse every peer once it is stale", "dir", dir, "env", env, "err", err)
			continue
		}
		for _, a := range rep.Actions {
			if a.Op == pki.OpReplaced {
				log.Info("crl re-signed", "path", a.Path, "reason", a.Reason)
			}
		}
	}
}
