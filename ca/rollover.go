package ca

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Phase is the state of an environment's intermediate rollover (see
// docs/ca.md, "Intermediate rollover").
type Phase string

// Phases of a rollover, in order.
const (
	// PhaseDone: no rollover in progress; one intermediate signs and is
	// trusted (also the phase of an environment that never rolled over).
	PhaseDone Phase = "done"
	// PhasePrepared: the next intermediate (ca.pem) is published in the
	// trust bundle for less than the minimum propagation time; the
	// previous one (ca-prev.pem) signs.
	PhasePrepared Phase = "prepared"
	// PhasePropagating: waiting until every member reports that it holds
	// the next intermediate; the previous one still signs.
	PhasePropagating Phase = "propagating"
	// PhaseActive: the next intermediate signs; the previous one stays
	// trusted until no unexpired leaf it signed remains.
	PhaseActive Phase = "active"
	// PhaseRetiring: the previous intermediate left the bundles and CRL
	// sets; waiting until no member reports holding it any more.
	PhaseRetiring Phase = "retiring"
)

// Phases lists every phase (the values of the `phase` label).
var Phases = []Phase{PhaseDone, PhasePrepared, PhasePropagating, PhaseActive, PhaseRetiring}

// Steps of a rollover, as the ledger records them (Record.Step).
const (
	StepPrepared  = "prepared"  // the CA first published the next intermediate
	StepActivated = "activated" // the next intermediate signs from now on
	StepRetired   = "retired"   // the previous intermediate is removed
	StepDone      = "done"      // no member holds the retired one any more
)

// Why an activation happened before every member reported (Record.Forced).
const (
	ForcedMaxWait  = "max_wait"          // RolloverPolicy.MaxWait passed
	ForcedExpiring = "previous_expiring" // the previous intermediate cannot sign a full leaf any more
)

// checkStep validates a rollover record.
func (r *Record) checkStep() error {
	switch {
	case !slices.Contains([]string{StepPrepared, StepActivated, StepRetired, StepDone}, r.Step):
		return fmt.Errorf("step: %q is not a rollover step", r.Step)
	case !isFingerprint(r.Intermediate):
		return fmt.Errorf("intermediate: %q is not a SHA-256 in hex", r.Intermediate)
	case r.Previous != "" && !isFingerprint(r.Previous):
		return fmt.Errorf("previous: %q is not a SHA-256 in hex", r.Previous)
	case r.At.IsZero():
		return errors.New("at: missing")
	}
	return nil
}

// isFingerprint accepts a SHA-256 in lowercase hex.
func isFingerprint(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32 && hex.EncodeToString(b) == s
}

// Intermediate identifies one intermediate CA certificate.
type Intermediate struct {
	Serial   string
	SHA256   string
	NotAfter time.Time
}

// Leaf is a certificate that may still be presented: one the ledger
// recorded, or a leaf file of the PKI directory (File set).
type Leaf struct {
	Identity string
	Serial   string
	// Lineage is the serial the certificate's lineage started from
	// (Index.Lineage); members are lineages.
	Lineage      string
	Issuer       string // SHA-256 of the intermediate that signed it
	IssuerSerial string
	Issued       time.Time // when the CA signed it (zero for a file)
	NotAfter     time.Time
	File         string // path of a leaf file, relative to the PKI directory
	Revoked      bool   // on a CRL, or renewed from a certificate that is
}

// AnchorReport is the last report of one member: the trust anchors its
// TLS sources held (SHA-256 of each DER) when it called the CA.
type AnchorReport struct {
	Identity string    `json:"identity"`
	Serial   string    `json:"serial"`    // the certificate it authenticated with
	NotAfter time.Time `json:"not_after"` // of that certificate
	At       time.Time `json:"at"`
	Anchors  []string  `json:"anchors"`
	Via      string    `json:"via"` // MethodRenew or ViaTrust
}

// ViaTrust marks a report that came with a trust fetch (POST /v1/trust).
const ViaTrust = "trust"

func (r *AnchorReport) holds(sha string) bool { return r != nil && slices.Contains(r.Anchors, sha) }

// RolloverView is what the phase depends on from the PKI directory and
// the ledger.
type RolloverView struct {
	Current  Intermediate  // ca.pem
	Previous *Intermediate // ca-prev.pem; nil outside a rollover
	Steps    []Record      // rollover records, oldest first
	// FirstIssued is when each intermediate (by SHA-256) first signed a
	// recorded certificate.
	FirstIssued map[string]time.Time
	// Leaves are the certificates of the ledger and the leaf files; the
	// expired ones are ignored.
	Leaves []Leaf
}

// RolloverPolicy is the configuration the phase depends on.
type RolloverPolicy struct {
	// MinPropagation is the least time the next intermediate is published
	// before it may sign (Config.PublishDelay), for trust consumers the CA
	// does not see.
	MinPropagation time.Duration
	// MaxWait, when positive, activates the next intermediate that long
	// after it was prepared even if some member has not reported it.
	MaxWait time.Duration
	// LeafTTL is the lifetime of the certificates the CA signs: an
	// intermediate that expires within it is past signing.
	LeafTTL time.Duration
}

// Member is one lineage of certificates of a live identity: one instance
// of a role, from its bootstrap on, whose newest certificate is
// unexpired and not revoked.
type Member struct {
	Identity, Lineage string
	Leaf              Leaf          // its newest certificate
	Start             time.Time     // when its oldest unexpired certificate was issued
	Report            *AnchorReport // its last report; nil: none yet
	Waiting           bool          // the phase waits for it
}

// Rollover is the phase of an environment and what the CA must do now.
type Rollover struct {
	Phase    Phase
	Since    time.Time // when the phase began; zero: no rollover ever
	Current  Intermediate
	Previous *Intermediate
	Retired  string // SHA-256 of the intermediate the retiring phase watches
	Signer   string // SHA-256 of the intermediate that signs leaves
	Members  []Member
	// Ready of Counted members hold what the phase waits for: the next
	// intermediate (prepared, propagating), a certificate it signed
	// (active), no longer the retired one (retiring).
	Ready, Counted int
	Forced         string // of the activation, if it was forced
	// PreviousLeaves are the unexpired, unrevoked leaves of the previous
	// intermediate that retirement waits for.
	PreviousLeaves []Leaf
	// Next is the ledger record of the step the CA takes now (nil: none);
	// Retire asks it to remove the previous intermediate's files.
	Next   *Record
	Retire bool
}

// Waiting returns the members the phase waits for.
func (ro Rollover) Waiting() []Member {
	var out []Member
	for _, m := range ro.Members {
		if m.Waiting {
			out = append(out, m)
		}
	}
	return out
}

// PlanRollover is the rollover rule, a pure function of the ledger and
// PKI directory (v), the members' last reports (by lineage), the policy
// and the time. It returns the phase after the step it asks for:
//
//   - prepared -> propagating: MinPropagation after the CA first
//     published the next intermediate.
//   - propagating -> active: every member (a live, unrevoked lineage of
//     the ledger) has reported holding the next intermediate; or, forced,
//     MaxWait passed, or the previous intermediate expires within one
//     LeafTTL.
//   - active -> retiring: no unexpired, unrevoked leaf of the previous
//     intermediate remains, in the ledger or among the leaf files; the
//     CA then removes it (Retire).
//   - retiring -> done: no member's last report holds it any more.
//
// A member stops counting when its newest certificate expires or is
// revoked.
func PlanRollover(v RolloverView, reports map[string]AnchorReport, p RolloverPolicy, now time.Time) Rollover {
	ro := Rollover{Current: v.Current, Previous: v.Previous, Signer: v.Current.SHA256, Members: members(v.Leaves, reports, now)}
	cur := v.Current.SHA256
	step := func(name string) *Record {
		for i := len(v.Steps) - 1; i >= 0; i-- {
			if s := &v.Steps[i]; s.Intermediate == cur && s.Step == name {
				return s
			}
		}
		return nil
	}
	next := func(name string) *Record {
		r := &Record{V: LedgerVersion, Kind: KindRollover, At: now.UTC(), Step: name, Intermediate: cur}
		if v.Previous != nil {
			r.Previous = v.Previous.SHA256
		}
		return r
	}
	if done := step(StepDone); done != nil {
		ro.Phase, ro.Since = PhaseDone, done.At
		return ro
	}
	if ret := step(StepRetired); ret != nil || v.Previous == nil {
		if ret == nil {
			// The previous intermediate left without the CA (it expired,
			// or an operator removed it): record when the CA saw it go.
			last := lastStep(v.Steps, cur)
			if last == nil {
				ro.Phase = PhaseDone
				return ro
			}
			ret = next(StepRetired)
			ret.Previous = last.Previous
			ro.Next = ret
		}
		ro.Retire = v.Previous != nil // recorded, but the files are still there
		return ro.retiring(ret, next)
	}
	prep := step(StepPrepared)
	if prep == nil {
		prep = next(StepPrepared)
		ro.Next = prep
	}
	act := step(StepActivated)
	if act == nil {
		if at, ok := v.FirstIssued[cur]; ok {
			// Leaves of the next intermediate exist: it was activated
			// (by a CA that did not record it, such as an older logsys).
			act = &Record{Step: StepActivated, At: at, Intermediate: cur}
		}
	}
	if act == nil {
		ro.Signer = v.Previous.SHA256
		ro.count(func(m Member) bool { return m.Report.holds(cur) })
		floor := prep.At.Add(p.MinPropagation)
		ro.Phase, ro.Since = PhasePrepared, prep.At
		if !now.Before(floor) {
			ro.Phase, ro.Since = PhasePropagating, floor
		}
		forced := ""
		switch {
		case ro.Ready == ro.Counted && !now.Before(floor):
		case !now.Add(p.LeafTTL).Before(v.Previous.NotAfter):
			forced = ForcedExpiring
		case p.MaxWait > 0 && !now.Before(prep.At.Add(p.MaxWait)):
			forced = ForcedMaxWait
		default:
			return ro
		}
		act = next(StepActivated)
		if forced != "" && ro.Ready < ro.Counted {
			act.Forced = forced
			for _, m := range ro.Waiting() {
				act.Waiting = append(act.Waiting, m.Identity+" "+m.Lineage)
			}
		}
		if ro.Next != nil { // prepared and activated at once: record the first step now, the second next time
			return ro
		}
		ro.Next = act
		for i := range ro.Members {
			ro.Members[i].Waiting = false
		}
	}
	ro.Forced, ro.Signer = act.Forced, cur
	// Active: members move to the next intermediate as they renew.
	ro.count(func(m Member) bool { return m.Leaf.Issuer == cur })
	prev := v.Previous.SHA256
	for _, l := range v.Leaves {
		if l.Issuer == prev && !l.Revoked && now.Before(l.NotAfter) {
			ro.PreviousLeaves = append(ro.PreviousLeaves, l)
		}
	}
	slices.SortFunc(ro.PreviousLeaves, func(a, b Leaf) int { return a.NotAfter.Compare(b.NotAfter) })
	if len(ro.PreviousLeaves) > 0 || ro.Next != nil {
		ro.Phase, ro.Since = PhaseActive, act.At
		return ro
	}
	ro.Next, ro.Retire = next(StepRetired), true
	return ro.retiring(ro.Next, next)
}

// retiring is the phase after ret: waiting until no member holds the
// retired intermediate, then done (recorded by the next call).
func (ro Rollover) retiring(ret *Record, next func(string) *Record) Rollover {
	ro.Phase, ro.Since, ro.Retired, ro.Signer = PhaseRetiring, ret.At, ret.Previous, ro.Current.SHA256
	ro.count(func(m Member) bool { return !m.Report.holds(ret.Previous) })
	if ro.Ready == ro.Counted && ro.Next == nil && !ro.Retire {
		ro.Next = next(StepDone)
		ro.Phase, ro.Since = PhaseDone, ro.Next.At
	}
	return ro
}

// count marks the members that are not ready as waiting.
func (ro *Rollover) count(ready func(Member) bool) {
	ro.Ready, ro.Counted = 0, len(ro.Members)
	for i := range ro.Members {
		if ready(ro.Members[i]) {
			ro.Ready++
		} else {
			ro.Members[i].Waiting = true
		}
	}
}

// lastStep is the newest rollover record about intermediate sha.
func lastStep(steps []Record, sha string) *Record {
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].Intermediate == sha {
			return &steps[i]
		}
	}
	return nil
}

// members groups the ledger's unexpired, unrevoked leaves by lineage,
// each with its newest certificate and last report, sorted by identity.
func members(leaves []Leaf, reports map[string]AnchorReport, now time.Time) []Member {
	byLineage := map[string]*Member{}
	for _, l := range leaves {
		if l.File != "" || l.Revoked || !now.Before(l.NotAfter) {
			continue
		}
		m, ok := byLineage[l.Lineage]
		if !ok {
			m = &Member{Identity: l.Identity, Lineage: l.Lineage, Leaf: l, Start: l.Issued}
			if r, ok := reports[l.Lineage]; ok {
				m.Report = &r
			}
			byLineage[l.Lineage] = m
		}
		if l.NotAfter.After(m.Leaf.NotAfter) {
			m.Leaf = l
		}
		if l.Issued.Before(m.Start) {
			m.Start = l.Issued
		}
	}
	out := make([]Member, 0, len(byLineage))
	for _, m := range byLineage {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Member) int {
		return cmp.Or(cmp.Compare(a.Identity, b.Identity), cmp.Compare(a.Lineage, b.Lineage))
	})
	return out
}

// activatedIn reports whether the intermediate cur signs leaves in a
// rollover: a step past prepared is recorded for it, or it signed a
// recorded certificate. PlanRollover decides the same way.
func activatedIn(steps []Record, firstIssued map[string]time.Time, cur string) bool {
	if _, ok := firstIssued[cur]; ok {
		return true
	}
	return slices.ContainsFunc(steps, func(r Record) bool { return r.Intermediate == cur && r.Step != StepPrepared })
}
