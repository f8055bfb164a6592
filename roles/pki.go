package roles

import (
	"context"
	"fmt"
	"log/slog"

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
