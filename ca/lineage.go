package ca

import (
	"fmt"
	"slices"
	"time"
)

// Index is the issuance ledger in memory: every issued certificate by
// serial, its children (the certificates renewed from it) and the
// certificates of each identity, in the order they were recorded.
type Index struct {
	records    []*Record
	bySerial   map[string]*Record
	children   map[string][]*Record // by parent serial
	byIdentity map[string][]*Record
	// lineage maps each serial to the serial its lineage started from:
	// its bootstrap, or the first parent the ledger does not know.
	lineage map[string]string
	// firstIssued is when each intermediate (by SHA-256) first signed.
	firstIssued map[string]time.Time
	steps       []*Record // rollover records
}

func newIndex() *Index {
	return &Index{bySerial: map[string]*Record{}, children: map[string][]*Record{}, byIdentity: map[string][]*Record{},
		lineage: map[string]string{}, firstIssued: map[string]time.Time{}}
}

func (ix *Index) add(r *Record) error {
	if r.Kind == KindRollover {
		ix.steps = append(ix.steps, r)
		return nil
	}
	if _, dup := ix.bySerial[r.Serial]; dup {
		return fmt.Errorf("serial %s is recorded twice", r.Serial)
	}
	ix.records = append(ix.records, r)
	ix.bySerial[r.Serial] = r
	ix.lineage[r.Serial] = r.Serial
	if r.Parent != "" {
		ix.children[r.Parent] = append(ix.children[r.Parent], r)
		ix.lineage[r.Serial] = ix.Lineage(r.Parent)
	}
	ix.byIdentity[r.Identity] = append(ix.byIdentity[r.Identity], r)
	if at, ok := ix.firstIssued[r.IssuerSHA256]; !ok || r.At.Before(at) {
		ix.firstIssued[r.IssuerSHA256] = r.At
	}
	return nil
}

// Len is the number of issued certificates.
func (ix *Index) Len() int { return len(ix.records) }

// Lineage returns the serial the lineage of serial started from: the
// bootstrap it was renewed from, directly or not, or the oldest ancestor
// the ledger does not know (a certificate of `logsys pki issue`), or
// serial itself when the ledger does not know it.
func (ix *Index) Lineage(serial string) string {
	if root, ok := ix.lineage[serial]; ok {
		return root
	}
	return serial
}

// Steps returns the rollover records in the order they were written.
func (ix *Index) Steps() []Record {
	out := make([]Record, len(ix.steps))
	for i, r := range ix.steps {
		out[i] = *r
	}
	return out
}

// Records returns every issued certificate in the order it was written.
func (ix *Index) Records() []Record {
	out := make([]Record, len(ix.records))
	for i, r := range ix.records {
		out[i] = *r
	}
	return out
}

// Lookup returns the record of serial.
func (ix *Index) Lookup(serial string) (Record, bool) {
	r, ok := ix.bySerial[serial]
	if !ok {
		return Record{}, false
	}
	return *r, true
}

// Descendants returns every recorded certificate renewed, directly or
// not, from one of roots (serials, which need not be in the ledger
// themselves: a certificate of `logsys pki issue` may have been renewed
// here), mapped to the root it descends from. The roots are not included
// unless one descends from another.
func (ix *Index) Descendants(roots []string) map[string]string {
	out := map[string]string{}
	for _, root := range roots {
		queue := []string{root}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			for _, c := range ix.children[p] {
				if _, seen := out[c.Serial]; seen {
					continue
				}
				out[c.Serial] = root
				queue = append(queue, c.Serial)
			}
		}
	}
	return out
}

// Live returns the certificates of identity that have not expired at now.
func (ix *Index) Live(identity string, now time.Time) []Record {
	var out []Record
	for _, r := range ix.byIdentity[identity] {
		if now.Before(r.NotAfter) {
			out = append(out, *r)
		}
	}
	return out
}

// LiveIdentities returns the identities holding a certificate that has
// not expired at now, sorted.
func (ix *Index) LiveIdentities(now time.Time) []string {
	var out []string
	for id, recs := range ix.byIdentity {
		if slices.ContainsFunc(recs, func(r *Record) bool { return now.Before(r.NotAfter) }) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
