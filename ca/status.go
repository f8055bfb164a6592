package ca

import (
	"net/http"
	"time"

	"logsys/ca/wire"
	"logsys/tlsx"
)

// handleStatus serves GET /v1/status to the admin identities
// (Config.Admins) of this environment: the rollover phase and what each
// member trusts.
func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	from := []any{"method", "status", "remote", r.RemoteAddr}
	now := s.cfg.Now()
	st, _ := s.reload(now)
	_, id, chains, err := s.authenticate(st, r.TLS, now)
	if err == nil {
		if aerr := tlsx.AuthorizeNames(st.td, s.cfg.Env, s.cfg.Admins...)(id, chains); aerr != nil {
			err = refuse(ReasonNotAdmin, "%s may not read the status (admins: %v): %v", id, s.cfg.Admins, aerr)
		}
	}
	if err != nil {
		s.writeRefusal(w, err, from)
		return
	}
	writeJSON(w, http.StatusOK, s.status(*s.advance(now), now))
}

// status renders a plan for GET /v1/status.
func (s *Server) status(p Rollover, now time.Time) wire.Status {
	inter := func(i Intermediate) wire.Intermediate {
		return wire.Intermediate{Serial: i.Serial, SHA256: i.SHA256, NotAfter: i.NotAfter.UTC()}
	}
	out := wire.Status{Env: s.cfg.Env, At: now.UTC(), Phase: string(p.Phase), Since: p.Since.UTC(), Current: inter(p.Current),
		Retired: p.Retired, Signer: p.Signer, Ready: p.Ready, Counted: p.Counted, Forced: p.Forced,
		MinPropagation: s.cfg.PublishDelay.String(), MaxWait: s.cfg.RolloverMaxWait.String(), Members: []wire.Member{}}
	if p.Since.IsZero() {
		out.Since = time.Time{}
	}
	if p.Previous != nil {
		prev := inter(*p.Previous)
		out.Previous = &prev
	}
	for _, m := range p.Members {
		if m.Waiting {
			out.Waiting = append(out.Waiting, m.Identity)
		}
		wm := wire.Member{Identity: m.Identity, Lineage: m.Lineage, Serial: m.Leaf.Serial, NotAfter: m.Leaf.NotAfter.UTC(),
			IssuerSerial: m.Leaf.IssuerSerial, IssuerSHA256: m.Leaf.Issuer, Waiting: m.Waiting}
		if m.Report != nil {
			wm.Anchors, wm.LastSeen, wm.Via = m.Report.Anchors, m.Report.At.UTC(), m.Report.Via
		}
		out.Members = append(out.Members, wm)
	}
	for _, l := range p.PreviousLeaves {
		out.PreviousLeaves = append(out.PreviousLeaves, wire.Leaf{Identity: l.Identity, Serial: l.Serial, NotAfter: l.NotAfter.UTC(), File: l.File})
	}
	return out
}
