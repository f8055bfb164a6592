package ca

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sync"

	"logsys/pki"
)

// reportsVersion is the version of the reports file this package writes.
const reportsVersion = 1

// reportsFile is pki.Layout.Reports: the last report of each member.
type reportsFile struct {
	V       int                     `json:"v"`
	Reports map[string]AnchorReport `json:"reports"` // by lineage
}

// reportStore keeps the last report of each member (by lineage) in
// memory and in the reports file, so that a restarted CA still knows who
// holds what. A report that changes what a member holds is written at
// once; one that only refreshes its time is written by the next flush.
type reportStore struct {
	dir, path string
	mu        sync.Mutex
	by        map[string]AnchorReport
	dirty     bool
}

// openReports reads the reports file of env (a missing file holds no
// reports). A file it cannot use is returned as an error with an empty,
// usable store: reports are sent again by every member, and a store that
// lacks some can only delay a rollover, never hasten it.
func openReports(dir, env string) (*reportStore, error) {
	rs := &reportStore{dir: dir, path: pki.Layout{Dir: dir}.Reports(env), by: map[string]AnchorReport{}}
	data, err := pki.ReadSecret(dir, rs.path)
	if errors.Is(err, fs.ErrNotExist) {
		return rs, nil
	}
	if err != nil {
		return rs, fmt.Errorf("reports: %w", err)
	}
	var f reportsFile
	if err := json.Unmarshal(data, &f); err != nil {
		return rs, fmt.Errorf("reports %s: %w", rs.path, err)
	}
	if f.V != reportsVersion {
		return rs, fmt.Errorf("reports %s: version %d, this logsys reads %d", rs.path, f.V, reportsVersion)
	}
	for lineage, r := range f.Reports {
		if !validAnchors(r.Anchors) {
			return rs, fmt.Errorf("reports %s: %s: anchors are not SHA-256 fingerprints", rs.path, lineage)
		}
	}
	if f.Reports != nil {
		rs.by = f.Reports
	}
	return rs, nil
}

// validAnchors accepts at most MaxAnchors sorted, distinct fingerprints.
func validAnchors(a []string) bool {
	return len(a) <= maxAnchors && slices.IsSorted(a) && len(slices.Compact(slices.Clone(a))) == len(a) && !slices.ContainsFunc(a, func(s string) bool { return !isFingerprint(s) })
}

// record keeps r as lineage's last report and, when what the member
// holds changed, writes the file before it returns.
func (rs *reportStore) record(lineage string, r AnchorReport) (changed bool, err error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	old, ok := rs.by[lineage]
	changed = !ok || !slices.Equal(old.Anchors, r.Anchors)
	rs.by[lineage] = r
	rs.dirty = true
	if changed {
		err = rs.saveLocked()
	}
	return changed, err
}

// flush writes the file when a report came since the last write.
func (rs *reportStore) flush() error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if !rs.dirty {
		return nil
	}
	return rs.saveLocked()
}

// prune forgets the reports keep refuses (members that are gone).
func (rs *reportStore) prune(keep func(lineage string, r AnchorReport) bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for lineage, r := range rs.by {
		if !keep(lineage, r) {
			delete(rs.by, lineage)
			rs.dirty = true
		}
	}
}

func (rs *reportStore) snapshot() map[string]AnchorReport {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return maps.Clone(rs.by)
}

func (rs *reportStore) saveLocked() error {
	data, err := json.Marshal(reportsFile{V: reportsVersion, Reports: rs.by})
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	if err := pki.WriteFile(rs.dir, rs.path, append(data, '\n'), pki.SecretPerm); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	rs.dirty = false
	return nil
}
