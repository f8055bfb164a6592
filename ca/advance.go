package ca

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"time"

	"logsys/ca/wire"
	"logsys/pki"
	"logsys/spiffeid"
)

// maxSteps bounds the steps one advance takes (prepared, activated,
// retired, done), so that a step that does not stick cannot loop.
const maxSteps = 5

// advance computes the rollover plan and takes each step it asks for,
// recording it in the ledger before acting on it, until none is left.
// It returns the last plan, which the status and the metrics show.
func (s *Server) advance(now time.Time) *Rollover {
	s.rollMu.Lock()
	defer s.rollMu.Unlock()
	var plan Rollover
	for range maxSteps {
		st := s.st.Load()
		v, err := s.rolloverView(st, now)
		if err != nil {
			if msg := err.Error(); msg != s.rollErr {
				s.rollErr = msg
				s.log.Warn("rollover: leaf files unreadable; the rollover waits", "err", err)
			}
			if last := s.plan.Load(); last != nil {
				return last
			}
			plan = Rollover{Phase: PhaseDone, Current: intermediateOf(st.cur), Signer: fingerprint(st.signer.Cert())}
			break
		}
		s.rollErr = ""
		plan = PlanRollover(v, s.reports.snapshot(), s.policy(), now)
		if plan.Next == nil && !plan.Retire {
			break
		}
		if plan.Next != nil {
			if err := s.ledger.Append(*plan.Next); err != nil {
				s.log.Error("rollover: cannot record the next step; not taking it", "step", plan.Next.Step, "err", err)
				break
			}
			s.logStep(plan)
		}
		if plan.Retire {
			rep, err := pki.RetirePrevious(context.Background(), pki.RetireOptions{Dir: s.cfg.Dir, Env: s.cfg.Env,
				Previous: st.prev.Cert(), Now: func() time.Time { return now }})
			if err != nil {
				s.log.Error("rollover: cannot remove the previous intermediate; retried at the next poll", "err", err)
				break
			}
			s.log.Info("rollover: previous intermediate removed from the trust bundle and the CRLs",
				"serial", serialOf(st.prev.Cert()), "removed", rep.Count(pki.OpRemoved))
		}
		if _, err := s.reload(now); err != nil {
			break
		}
	}
	live := map[string]bool{}
	for _, m := range plan.Members {
		live[m.Lineage] = true
	}
	s.reports.prune(func(lineage string, r AnchorReport) bool { return live[lineage] || now.Before(r.NotAfter) })
	if err := s.reports.flush(); err != nil {
		s.log.Warn("trust reports not saved; kept in memory and retried", "err", err)
	}
	s.plan.Store(&plan)
	return &plan
}

// logStep logs the step plan.Next and counts a forced activation.
func (s *Server) logStep(plan Rollover) {
	n := plan.Next
	attrs := []any{"intermediate", plan.Current.Serial}
	switch {
	case n.Step == StepPrepared:
		s.log.Info("rollover: next intermediate prepared; the previous one signs until every member reports it", attrs...)
	case n.Step == StepActivated && n.Forced != "":
		s.m.forced(s.cfg.Env, n.Forced)
		s.log.Warn("rollover: next intermediate activated before every member reported it; these members do not trust the certificates it signs",
			append(attrs, "forced", n.Forced, "not_reported", n.Waiting)...)
	case n.Step == StepActivated:
		s.log.Info("rollover: every member holds the next intermediate; it signs from now on", attrs...)
	case n.Step == StepRetired:
		s.log.Info("rollover: no unexpired leaf of the previous intermediate remains; retiring it", append(attrs, "previous", n.Previous)...)
	case n.Step == StepDone:
		s.log.Info("rollover: done, no member holds the previous intermediate any more", attrs...)
	}
}

func (s *Server) policy() RolloverPolicy {
	return RolloverPolicy{MinPropagation: s.cfg.PublishDelay, MaxWait: s.cfg.RolloverMaxWait, LeafTTL: s.cfg.LeafTTL}
}

// rolloverView gathers what PlanRollover depends on: the intermediates of
// st, the ledger's steps and unexpired certificates and, during a
// rollover, the leaf files of the PKI directory.
func (s *Server) rolloverView(st *envState, now time.Time) (RolloverView, error) {
	v := RolloverView{Current: intermediateOf(st.cur)}
	if st.prev != nil {
		p := intermediateOf(st.prev)
		v.Previous = &p
	}
	onCRL := map[string]bool{}
	for _, sn := range st.crlSerials() {
		onCRL[sn] = true
	}
	s.ledger.View(func(ix *Index) {
		v.Steps, v.FirstIssued = ix.Steps(), maps.Clone(ix.firstIssued)
		for _, r := range ix.records {
			if !now.Before(r.NotAfter) {
				continue
			}
			_, tainted := st.tainted[r.Serial]
			v.Leaves = append(v.Leaves, Leaf{Identity: r.Identity, Serial: r.Serial, Lineage: ix.Lineage(r.Serial),
				Issuer: r.IssuerSHA256, IssuerSerial: r.IssuerSerial, Issued: r.At, NotAfter: r.NotAfter, Revoked: onCRL[r.Serial] || tainted})
		}
	})
	if st.prev == nil {
		return v, nil
	}
	files, err := pki.LeafFiles(s.cfg.Dir, s.cfg.Env)
	if err != nil {
		return v, err
	}
	for _, f := range files {
		a := st.intermediate(f.Cert)
		if a == nil || !now.Before(f.Cert.NotAfter) {
			continue
		}
		rel, _ := filepath.Rel(s.cfg.Dir, f.Path)
		id, _ := spiffeid.FromCert(f.Cert)
		sn := serialOf(f.Cert)
		v.Leaves = append(v.Leaves, Leaf{Identity: id.String(), Serial: sn, Lineage: sn, Issuer: fingerprint(a.Cert()),
			IssuerSerial: serialOf(a.Cert()), NotAfter: f.Cert.NotAfter, File: rel, Revoked: onCRL[sn]})
	}
	return v, nil
}

// report keeps what the role presenting leaf says it trusts. A report
// for another identity than the certificate's is refused: the CA counts
// only what each member says of itself.
func (s *Server) report(leaf *x509.Certificate, r wire.Report, via string, now time.Time) error {
	id, err := spiffeid.FromCert(leaf)
	if err != nil {
		return refuse(ReasonIdentity, "%v", err)
	}
	if r.Identity != id.String() {
		return refuse(ReasonReportIdentity, "trust report for %q from the certificate of %s (serial %s)", r.Identity, id, serialOf(leaf))
	}
	if !validAnchors(r.Anchors) {
		return refuse(ReasonBadRequest, "trust report: anchors must be at most %d sorted, distinct SHA-256 fingerprints in lowercase hex", maxAnchors)
	}
	serial := serialOf(leaf)
	var lineage string
	s.ledger.View(func(ix *Index) { lineage = ix.Lineage(serial) })
	changed, err := s.reports.record(lineage, AnchorReport{Identity: id.String(), Serial: serial, NotAfter: leaf.NotAfter.UTC(),
		At: now.UTC(), Anchors: r.Anchors, Via: via})
	if err != nil {
		s.log.Warn("trust report not saved; kept in memory and retried", "err", err)
	}
	s.m.report(s.cfg.Env, via)
	if changed {
		s.log.Debug("trust report", "id", id.String(), "lineage", lineage, "anchors", r.Anchors)
		s.advance(now)
	}
	return nil
}

// handleTrustReport serves POST /v1/trust: a trust fetch that reports,
// authenticated by the client certificate, what the role trusts.
func (s *Server) handleTrustReport(w http.ResponseWriter, r *http.Request) {
	from := []any{"method", ViaTrust, "remote", r.RemoteAddr}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	err := func() error {
		now := s.cfg.Now()
		st, _ := s.reload(now)
		var req wire.TrustRequest
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return refuse(ReasonBadRequest, "decode trust request: %v", err)
		}
		leaf, _, _, err := s.authenticate(st, r.TLS, now)
		if err != nil {
			return err
		}
		from = append(from, "presented_serial", serialOf(leaf), "presented_uris", fmt.Sprint(leaf.URIs))
		return s.report(leaf, req.Report, ViaTrust, now)
	}()
	if err != nil {
		s.writeRefusal(w, err, from)
		return
	}
	writeJSON(w, http.StatusOK, s.st.Load().trust())
}
