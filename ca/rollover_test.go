package ca

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The rollover rule at its edges: PlanRollover is a pure function of the
// ledger view, the reports, the policy and the time.
func TestPlanRollover(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	fp := func(c byte) string { return strings.Repeat(string(c), 64) }
	prevSHA, nextSHA, oldSHA := fp('a'), fp('b'), fp('c')
	prev := Intermediate{Serial: "0A", SHA256: prevSHA, NotAfter: t0.Add(300 * 24 * time.Hour)}
	next := Intermediate{Serial: "0B", SHA256: nextSHA, NotAfter: t0.Add(700 * 24 * time.Hour)}
	policy := RolloverPolicy{MinPropagation: 15 * time.Minute, LeafTTL: time.Hour}
	step := func(name string, at time.Duration) Record {
		return Record{V: 1, Kind: KindRollover, At: t0.Add(at), Step: name, Intermediate: nextSHA, Previous: prevSHA}
	}
	prepared := step(StepPrepared, 0)
	activated := step(StepActivated, 30*time.Minute)
	retired := step(StepRetired, 2*time.Hour)
	// leaf: a certificate of lineage L of name, signed by issuer, expiring at t0+exp.
	leaf := func(name, lineage, issuer string, exp time.Duration) Leaf {
		return Leaf{Identity: "spiffe://logsys.local/dev/" + name, Serial: lineage + "1", Lineage: lineage, Issuer: issuer,
			Issued: t0.Add(exp - time.Hour), NotAfter: t0.Add(exp)}
	}
	// The fleet renews: its newest certificates outlive every case below.
	fleet := []Leaf{leaf("gateway", "10", prevSHA, 48*time.Hour), leaf("producer", "20", prevSHA, 48*time.Hour), leaf("consumer", "30", prevSHA, 48*time.Hour)}
	late := func(d time.Duration) []Leaf {
		return []Leaf{leaf("gateway", "10", prevSHA, d), leaf("producer", "20", prevSHA, d), leaf("consumer", "30", prevSHA, d)}
	}
	rep := func(at time.Duration, anchors ...string) AnchorReport {
		slices.Sort(anchors)
		return AnchorReport{At: t0.Add(at), Anchors: anchors, Via: ViaTrust}
	}
	all := map[string]AnchorReport{"10": rep(time.Minute, prevSHA, nextSHA), "20": rep(time.Minute, prevSHA, nextSHA), "30": rep(time.Minute, prevSHA, nextSHA)}
	without := func(m map[string]AnchorReport, lineage string) map[string]AnchorReport {
		out := map[string]AnchorReport{}
		for k, v := range m {
			if k != lineage {
				out[k] = v
			}
		}
		return out
	}
	with := func(m map[string]AnchorReport, lineage string, r AnchorReport) map[string]AnchorReport {
		out := without(m, lineage)
		out[lineage] = r
		return out
	}
	inRollover := func(steps ...Record) RolloverView {
		return RolloverView{Current: next, Previous: &prev, Steps: steps, Leaves: fleet}
	}
	tests := []struct {
		name    string
		view    RolloverView
		reports map[string]AnchorReport
		policy  RolloverPolicy
		at      time.Duration
		// want
		phase   Phase
		since   time.Duration // from t0; -1: zero
		step    string        // of Next ("" none)
		forced  string
		retire  bool
		signer  string
		ready   [2]int // ready, counted
		waiting []string
	}{
		{name: "no rollover", view: RolloverView{Current: prev, Leaves: fleet}, phase: PhaseDone, since: -1, signer: prevSHA, at: time.Minute},
		{name: "next intermediate appears: prepared", view: inRollover(), at: 5 * time.Minute,
			phase: PhasePrepared, since: 5 * time.Minute, step: StepPrepared, signer: prevSHA, ready: [2]int{0, 3}, waiting: []string{"consumer", "gateway", "producer"}},
		{name: "everyone reported, minimum propagation not over", view: inRollover(prepared), reports: all, at: 14 * time.Minute,
			phase: PhasePrepared, since: 0, signer: prevSHA, ready: [2]int{3, 3}},
		{name: "one identity missing", view: inRollover(prepared), reports: without(all, "20"), at: 20 * time.Minute,
			phase: PhasePropagating, since: 15 * time.Minute, signer: prevSHA, ready: [2]int{2, 3}, waiting: []string{"producer"}},
		{name: "missing identity reports only the previous intermediate", view: inRollover(prepared), reports: with(all, "20", rep(19*time.Minute, prevSHA)),
			at: 20 * time.Minute, phase: PhasePropagating, since: 15 * time.Minute, signer: prevSHA, ready: [2]int{2, 3}, waiting: []string{"producer"}},
		{name: "no maximum wait: still waiting a day later", view: inRollover(prepared), reports: without(all, "20"), at: 24 * time.Hour,
			phase: PhasePropagating, since: 15 * time.Minute, signer: prevSHA, ready: [2]int{2, 3}, waiting: []string{"producer"}},
		{name: "everyone reported: activated", view: inRollover(prepared), reports: all, at: 16 * time.Minute,
			phase: PhaseActive, since: 16 * time.Minute, step: StepActivated, signer: nextSHA, ready: [2]int{0, 3}, waiting: []string{"consumer", "gateway", "producer"}},
		{name: "no member at all: activated after the minimum", view: RolloverView{Current: next, Previous: &prev, Steps: []Record{prepared}}, at: 15 * time.Minute,
			phase: PhaseActive, since: 15 * time.Minute, step: StepActivated, signer: nextSHA},
		{name: "certificate of the missing identity expires during propagation: it stops counting",
			view: RolloverView{Current: next, Previous: &prev, Steps: []Record{prepared},
				Leaves: []Leaf{fleet[0], leaf("producer", "20", prevSHA, 40*time.Minute), fleet[2]}},
			reports: without(all, "20"), at: 40 * time.Minute, phase: PhaseActive, since: 40 * time.Minute, step: StepActivated, signer: nextSHA, ready: [2]int{0, 2},
			waiting: []string{"consumer", "gateway"}},
		{name: "missing identity still has a second before expiry", view: RolloverView{Current: next, Previous: &prev, Steps: []Record{prepared},
			Leaves: []Leaf{fleet[0], leaf("producer", "20", prevSHA, 40*time.Minute), fleet[2]}},
			reports: without(all, "20"), at: 40*time.Minute - time.Second, phase: PhasePropagating, since: 15 * time.Minute, signer: prevSHA,
			ready: [2]int{2, 3}, waiting: []string{"producer"}},
		{name: "revoked member does not count", view: RolloverView{Current: next, Previous: &prev, Steps: []Record{prepared},
			Leaves: []Leaf{fleet[0], func() Leaf { l := fleet[1]; l.Revoked = true; return l }(), fleet[2]}},
			reports: without(all, "20"), at: 20 * time.Minute, phase: PhaseActive, since: 20 * time.Minute, step: StepActivated, signer: nextSHA, ready: [2]int{0, 2},
			waiting: []string{"consumer", "gateway"}},
		{name: "second replica of an identity has not reported", view: RolloverView{Current: next, Previous: &prev, Steps: []Record{prepared},
			Leaves: append(slices.Clone(fleet), leaf("gateway", "40", prevSHA, time.Hour))},
			reports: all, at: 20 * time.Minute, phase: PhasePropagating, since: 15 * time.Minute, signer: prevSHA, ready: [2]int{3, 4}, waiting: []string{"gateway"}},
		{name: "maximum wait not reached", view: inRollover(prepared), reports: without(all, "20"), policy: RolloverPolicy{MinPropagation: 15 * time.Minute, MaxWait: time.Hour, LeafTTL: time.Hour},
			at: time.Hour - time.Second, phase: PhasePropagating, since: 15 * time.Minute, signer: prevSHA, ready: [2]int{2, 3}, waiting: []string{"producer"}},
		{name: "maximum wait reached: forced", view: inRollover(prepared), reports: without(all, "20"), policy: RolloverPolicy{MinPropagation: 15 * time.Minute, MaxWait: time.Hour, LeafTTL: time.Hour},
			at: time.Hour, phase: PhaseActive, since: time.Hour, step: StepActivated, forced: ForcedMaxWait, signer: nextSHA, ready: [2]int{0, 3},
			waiting: []string{"consumer", "gateway", "producer"}},
		{name: "previous intermediate expires within a leaf lifetime: forced", view: RolloverView{Current: next, Previous: &prev, Steps: []Record{prepared},
			Leaves: late(301 * 24 * time.Hour)}, reports: without(all, "20"),
			at: 300*24*time.Hour - time.Hour, phase: PhaseActive, since: 300*24*time.Hour - time.Hour, step: StepActivated, forced: ForcedExpiring, signer: nextSHA,
			ready: [2]int{0, 3}, waiting: []string{"consumer", "gateway", "producer"}},
		{name: "previous intermediate expires in a leaf lifetime and a second", view: RolloverView{Current: next, Previous: &prev, Steps: []Record{prepared},
			Leaves: late(301 * 24 * time.Hour)}, reports: without(all, "20"),
			at: 300*24*time.Hour - time.Hour - time.Second, phase: PhasePropagating, since: 15 * time.Minute, signer: prevSHA,
			ready: [2]int{2, 3}, waiting: []string{"producer"}},
		{name: "activated: leaves of the previous one left", view: inRollover(prepared, activated), reports: all, at: 50 * time.Minute,
			phase: PhaseActive, since: 30 * time.Minute, signer: nextSHA, ready: [2]int{0, 3}, waiting: []string{"consumer", "gateway", "producer"}},
		{name: "retire waits for the last leaf", view: RolloverView{Current: next, Previous: &prev, Steps: []Record{prepared, activated},
			Leaves: []Leaf{leaf("gateway", "10", nextSHA, 2*time.Hour), leaf("producer", "20", prevSHA, 61*time.Minute), leaf("producer", "20", nextSHA, 2*time.Hour)}},
			at: time.Hour, phase: PhaseActive, since: 30 * time.Minute, signer: nextSHA, ready: [2]int{2, 2}},
		{name: "retire waits for a leaf file", view: RolloverView{Current: next, Previous: &prev, Steps: []Record{prepared, activated},
			Leaves: []Leaf{leaf("gateway", "10", nextSHA, 2*time.Hour), {Identity: "spiffe://logsys.local/dev/client", Serial: "77", Lineage: "77",
				Issuer: prevSHA, NotAfter: t0.Add(30 * 24 * time.Hour), File: "dev/client/cert.pem"}}},
			at: time.Hour, phase: PhaseActive, since: 30 * time.Minute, signer: nextSHA, ready: [2]int{1, 1}},
		{name: "last leaf of the previous one expired: retire", view: RolloverView{Current: next, Previous: &prev, Steps: []Record{prepared, activated},
			Leaves: []Leaf{leaf("gateway", "10", nextSHA, 2*time.Hour), leaf("producer", "20", prevSHA, 61*time.Minute), leaf("producer", "20", nextSHA, 2*time.Hour)}},
			reports: all, at: 61 * time.Minute, phase: PhaseRetiring, since: 61 * time.Minute, step: StepRetired, retire: true, signer: nextSHA, ready: [2]int{0, 2},
			waiting: []string{"gateway", "producer"}},
		{name: "retired, files not yet removed", view: RolloverView{Current: next, Previous: &prev, Steps: []Record{prepared, activated, retired}},
			at: 2*time.Hour + time.Second, phase: PhaseRetiring, since: 2 * time.Hour, retire: true, signer: nextSHA},
		{name: "retiring: one member still holds the retired one", view: RolloverView{Current: next, Steps: []Record{prepared, activated, retired},
			Leaves: []Leaf{leaf("gateway", "10", nextSHA, 3*time.Hour), leaf("producer", "20", nextSHA, 3*time.Hour)}},
			reports: map[string]AnchorReport{"10": rep(2*time.Hour+time.Minute, nextSHA), "20": rep(2*time.Hour-time.Minute, prevSHA, nextSHA)},
			at:      2*time.Hour + 2*time.Minute, phase: PhaseRetiring, since: 2 * time.Hour, signer: nextSHA, ready: [2]int{1, 2}, waiting: []string{"producer"}},
		{name: "retiring: nobody holds it any more: done", view: RolloverView{Current: next, Steps: []Record{prepared, activated, retired},
			Leaves: []Leaf{leaf("gateway", "10", nextSHA, 3*time.Hour), leaf("producer", "20", nextSHA, 3*time.Hour)}},
			reports: map[string]AnchorReport{"10": rep(2*time.Hour+time.Minute, nextSHA), "20": rep(2*time.Hour+time.Minute, nextSHA)},
			at:      2*time.Hour + 2*time.Minute, phase: PhaseDone, since: 2*time.Hour + 2*time.Minute, step: StepDone, signer: nextSHA, ready: [2]int{2, 2}},
		{name: "done", view: RolloverView{Current: next, Steps: []Record{prepared, activated, retired, step(StepDone, 3*time.Hour)}, Leaves: fleet},
			at: 4 * time.Hour, phase: PhaseDone, since: 3 * time.Hour, signer: nextSHA},
		{name: "leaves of the next one exist: activated by an earlier CA", view: RolloverView{Current: next, Previous: &prev, Steps: []Record{prepared},
			FirstIssued: map[string]time.Time{nextSHA: t0.Add(10 * time.Minute)}, Leaves: fleet},
			at: 12 * time.Minute, phase: PhaseActive, since: 10 * time.Minute, signer: nextSHA, ready: [2]int{0, 3}, waiting: []string{"consumer", "gateway", "producer"}},
		{name: "previous intermediate removed behind the CA's back", view: RolloverView{Current: next, Steps: []Record{prepared, activated}, Leaves: []Leaf{leaf("gateway", "10", nextSHA, 3*time.Hour)}},
			reports: map[string]AnchorReport{"10": rep(time.Hour, prevSHA, nextSHA)}, at: 90 * time.Minute,
			phase: PhaseRetiring, since: 90 * time.Minute, step: StepRetired, signer: nextSHA, ready: [2]int{0, 1}, waiting: []string{"gateway"}},
		{name: "steps of an older rollover do not count", view: RolloverView{Current: next, Previous: &prev,
			Steps: []Record{{V: 1, Kind: KindRollover, At: t0, Step: StepActivated, Intermediate: oldSHA}}, Leaves: fleet}, reports: all,
			at: time.Minute, phase: PhasePrepared, since: time.Minute, step: StepPrepared, signer: prevSHA, ready: [2]int{3, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.policy
			if p == (RolloverPolicy{}) {
				p = policy
			}
			now := t0.Add(tt.at)
			ro := PlanRollover(tt.view, tt.reports, p, now)
			wantSince := t0.Add(tt.since)
			if tt.since < 0 {
				wantSince = time.Time{}
			}
			if ro.Phase != tt.phase || !ro.Since.Equal(wantSince) {
				t.Errorf("phase %s since %v, want %s since %v", ro.Phase, ro.Since, tt.phase, wantSince)
			}
			gotStep := ""
			if ro.Next != nil {
				gotStep = ro.Next.Step
				if err := ro.Next.check(); err != nil || !ro.Next.At.Equal(now) || ro.Next.Intermediate != tt.view.Current.SHA256 {
					t.Errorf("next record %+v (check: %v): want one about the current intermediate at now", ro.Next, err)
				}
			}
			if gotStep != tt.step || ro.Retire != tt.retire || ro.Forced != tt.forced {
				t.Errorf("step %q retire %v forced %q, want %q %v %q", gotStep, ro.Retire, ro.Forced, tt.step, tt.retire, tt.forced)
			}
			if ro.Signer != tt.signer {
				t.Errorf("signer %s, want %s", ro.Signer[:4], tt.signer[:4])
			}
			if ro.Ready != tt.ready[0] || ro.Counted != tt.ready[1] {
				t.Errorf("ready %d of %d, want %d of %d", ro.Ready, ro.Counted, tt.ready[0], tt.ready[1])
			}
			var waiting []string
			for _, m := range ro.Waiting() {
				waiting = append(waiting, strings.TrimPrefix(m.Identity, "spiffe://logsys.local/dev/"))
			}
			if !slices.Equal(waiting, tt.waiting) {
				t.Errorf("waiting for %q, want %q", waiting, tt.waiting)
			}
			if ro.Next != nil && ro.Next.Forced != "" && len(ro.Next.Waiting) == 0 {
				t.Errorf("forced activation %+v names nobody", ro.Next)
			}
		})
	}
}

// A forced activation names in its record every member that had not
// reported, so that the log line and the ledger say who.
func TestForcedActivationNamesWhoHadNotReported(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := Intermediate{SHA256: strings.Repeat("a", 64), NotAfter: t0.Add(9000 * time.Hour)}
	next := Intermediate{SHA256: strings.Repeat("b", 64), NotAfter: t0.Add(9000 * time.Hour)}
	v := RolloverView{Current: next, Previous: &prev,
		Steps:  []Record{{V: 1, Kind: KindRollover, At: t0, Step: StepPrepared, Intermediate: next.SHA256, Previous: prev.SHA256}},
		Leaves: []Leaf{{Identity: "spiffe://logsys.local/dev/consumer", Serial: "31", Lineage: "30", Issuer: prev.SHA256, NotAfter: t0.Add(3 * time.Hour)}}}
	ro := PlanRollover(v, nil, RolloverPolicy{MaxWait: time.Hour, LeafTTL: time.Hour}, t0.Add(time.Hour))
	if ro.Next == nil || ro.Next.Forced != ForcedMaxWait || !slices.Equal(ro.Next.Waiting, []string{"spiffe://logsys.local/dev/consumer 30"}) {
		t.Fatalf("next step %+v, want a forced activation naming consumer's lineage 30", ro.Next)
	}
}
