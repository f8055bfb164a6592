package ca

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"time"

	"logsys/pki"
)

// adopt makes st the current state and returns it and the previous one.
// Under issueMu, so that no certificate is recorded meanwhile, it marks
// every certificate of the ledger that descends from a serial on st's
// CRLs (renewals of it are refused) and puts those not yet expired on
// the CRL too, so that every role refuses them. A CRL that cannot be
// written is logged; the CA refuses the lineage all the same.
func (s *Server) adopt(st *envState, now time.Time) (*envState, *envState) {
	s.issueMu.Lock()
	defer s.issueMu.Unlock()
	for round := 0; ; round++ {
		var missing []string
		onCRL := st.crlSerials()
		listed := make(map[string]bool, len(onCRL))
		for _, sn := range onCRL {
			listed[sn] = true
		}
		s.ledger.View(func(ix *Index) {
			st.tainted = ix.Descendants(onCRL)
			for serial := range st.tainted {
				r, _ := ix.Lookup(serial)
				if now.Before(r.NotAfter) && !listed[serial] {
					missing = append(missing, serial)
				}
			}
		})
		if len(missing) == 0 || round == 2 {
			break
		}
		slices.Sort(missing)
		if _, err := revokeSerials(s.cfg.Dir, s.cfg.Env, now, "", missing); err != nil {
			s.log.Error("could not put the descendants of revoked certificates on the CRL; the CA refuses them, roles do not yet",
				"serials", missing, "err", err)
			break
		}
		s.m.lineageRevoked(s.cfg.Env, len(missing))
		s.log.Warn("revoked the descendants of revoked certificates", "serials", missing)
		next, err := s.load(now)
		if err != nil {
			s.log.Error("pki directory unreadable after the lineage revocation", "err", err)
			break
		}
		next.tainted = st.tainted
		st = next
	}
	return st, s.st.Swap(st)
}

// record writes the ledger record of a certificate about to be returned.
// A renewal whose presented certificate (rec.Parent) was revoked since it
// was checked, directly or through its lineage, is refused instead.
func (s *Server) record(rec Record) error {
	s.issueMu.Lock()
	defer s.issueMu.Unlock()
	if rec.Parent != "" {
		parent, err := pki.ParseSerial(rec.Parent)
		if err != nil {
			return fmt.Errorf("record: %w", err)
		}
		if root, bad := s.st.Load().revokedLineage(parent); bad {
			return refuse(ReasonRevoked, "certificate %s was revoked (through %s) while it renewed", rec.Parent, root)
		}
	}
	return s.ledger.Append(rec)
}

// revokeSerials is the one place package ca writes a CRL: it revokes the
// leaf of name (when not empty) and serials in env through pki.Revoke,
// which re-signs the CRL(s).
func revokeSerials(dir, env string, now time.Time, name string, serials []string) (pki.Report, error) {
	ns := make([]*big.Int, 0, len(serials))
	for _, sn := range serials {
		n, err := pki.ParseSerial(sn)
		if err != nil {
			return pki.Report{}, err
		}
		ns = append(ns, n)
	}
	return pki.Revoke(context.Background(), pki.RevokeOptions{Dir: dir, Env: env, Name: name, Serials: ns,
		Now: func() time.Time { return now }})
}
