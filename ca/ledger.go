package ca

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"logsys/pki"
	"logsys/spiffeid"
)

// LedgerVersion is the version of the records this package writes (the
// `v` of each line). Records of a higher version are refused: a newer
// logsys wrote them.
const LedgerVersion = 1

// Record kinds. A reader skips kinds it does not know (and counts them
// in LedgerReport.Skipped), so later kinds (such as what each identity
// reports it trusts) can be added without breaking older readers.
const (
	// KindIssued records a certificate the CA signed, before it is
	// returned.
	KindIssued = "issued"
	// KindRollover records a step of an intermediate rollover (Step*),
	// before the CA acts on it.
	KindRollover = "rollover"
)

// Record is one line of the issuance ledger (pki.Layout.Ledger). Serials
// are formatted as pki.FormatSerial prints them.
type Record struct {
	V        int       `json:"v"`
	Kind     string    `json:"kind"`
	At       time.Time `json:"at"`                 // when the CA signed it, or took the step
	Serial   string    `json:"serial,omitempty"`   // of the issued certificate
	Identity string    `json:"identity,omitempty"` // spiffe://<td>/<env>/<name>
	Method   string    `json:"method,omitempty"`   // MethodBootstrap or MethodRenew
	// Parent is the serial of the certificate presented at renewal;
	// empty at bootstrap, where Token names the token (its SHA-256, the
	// name of its record under tokens/used/).
	Parent string `json:"parent,omitempty"`
	Token  string `json:"token,omitempty"`
	// IssuerSerial and IssuerSHA256 identify the intermediate that signed.
	IssuerSerial string    `json:"issuer_serial,omitempty"`
	IssuerSHA256 string    `json:"issuer_sha256,omitempty"`
	NotBefore    time.Time `json:"not_before,omitzero"`
	NotAfter     time.Time `json:"not_after,omitzero"`

	// A rollover record names its Step, the intermediate it is about
	// (SHA-256 of ca.pem: during a rollover the next intermediate) and
	// Previous (of ca-prev.pem); an activation before every member
	// reported says why (Forced) and who had not (Waiting).
	Step         string   `json:"step,omitempty"`
	Intermediate string   `json:"intermediate,omitempty"`
	Previous     string   `json:"previous,omitempty"`
	Forced       string   `json:"forced,omitempty"`
	Waiting      []string `json:"waiting,omitempty"`
}

// issuedRecord describes cert, signed by issuer at now.
func issuedRecord(now time.Time, method string, cert, issuer *x509.Certificate) Record {
	return Record{V: LedgerVersion, Kind: KindIssued, At: now.UTC(), Serial: pki.FormatSerial(cert.SerialNumber),
		Identity: cert.URIs[0].String(), Method: method, IssuerSerial: pki.FormatSerial(issuer.SerialNumber),
		IssuerSHA256: fingerprint(issuer), NotBefore: cert.NotBefore.UTC(), NotAfter: cert.NotAfter.UTC()}
}

// check validates a record of a known kind.
func (r *Record) check() error {
	switch r.Kind {
	case KindRollover:
		return r.checkStep()
	case KindIssued:
	default:
		return nil
	}
	n, err := pki.ParseSerial(r.Serial)
	if err != nil {
		return fmt.Errorf("serial: %w", err)
	}
	r.Serial = pki.FormatSerial(n)
	if _, err := spiffeid.Parse(r.Identity); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	switch {
	case r.Method == MethodRenew && r.Parent == "":
		return errors.New("parent: a renewal names the certificate it renewed")
	case r.Method == MethodBootstrap && r.Token == "":
		return errors.New("token: a bootstrap names its token")
	case r.Method != MethodRenew && r.Method != MethodBootstrap:
		return fmt.Errorf("method: %q, want %s or %s", r.Method, MethodBootstrap, MethodRenew)
	case r.NotAfter.IsZero():
		return errors.New("not_after: missing")
	}
	if r.Parent != "" {
		p, err := pki.ParseSerial(r.Parent)
		if err != nil {
			return fmt.Errorf("parent: %w", err)
		}
		r.Parent = pki.FormatSerial(p)
	}
	return nil
}

// LedgerReport is what reading a ledger found besides its records.
type LedgerReport struct {
	Path    string
	Records int // records of known kinds
	Skipped int // records of kinds this version does not know
	// Torn is the number of bytes after the last complete line: a record
	// whose write a crash interrupted (its certificate was never handed
	// out) or, for a reader beside a running CA, one being written.
	Torn int
}

// Ledger is the issuance ledger of one environment: an append-only file
// of JSON lines (pki.AppendLine: one write and an fsync per record, so a
// record is durable before its certificate is returned) and an index of
// it in memory. It is safe for concurrent use.
type Ledger struct {
	dir, path string
	mu        sync.Mutex
	ix        *Index
}

// OpenLedger reads the ledger of env in the PKI directory dir for
// appending. A torn last line (see LedgerReport.Torn) is removed from the
// file and reported; any other damaged line is an error naming it.
func OpenLedger(dir, env string) (*Ledger, LedgerReport, error) {
	path := pki.Layout{Dir: dir}.Ledger(env)
	torn, err := pki.TrimTail(dir, path)
	if err != nil {
		return nil, LedgerReport{Path: path}, fmt.Errorf("ledger: %w", err)
	}
	ix, rep, err := ReadLedger(dir, env)
	rep.Torn = torn
	if err != nil {
		return nil, rep, err
	}
	return &Ledger{dir: dir, path: path, ix: ix}, rep, nil
}

// ReadLedger reads the ledger of env without changing it (a missing file
// is an empty ledger). A torn last line is ignored and reported.
func ReadLedger(dir, env string) (*Index, LedgerReport, error) {
	path := pki.Layout{Dir: dir}.Ledger(env)
	rep := LedgerReport{Path: path}
	lines, tail, err := pki.ReadLines(path)
	if err != nil {
		return nil, rep, fmt.Errorf("ledger: %w", err)
	}
	rep.Torn = len(tail)
	ix := newIndex()
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, rep, fmt.Errorf("ledger %s line %d: %w", path, i+1, err)
		}
		if r.V < 1 || r.V > LedgerVersion {
			return nil, rep, fmt.Errorf("ledger %s line %d: version %d, this logsys reads 1 to %d", path, i+1, r.V, LedgerVersion)
		}
		if r.Kind != KindIssued && r.Kind != KindRollover {
			rep.Skipped++
			continue
		}
		if err := r.check(); err != nil {
			return nil, rep, fmt.Errorf("ledger %s line %d: %w", path, i+1, err)
		}
		if err := ix.add(&r); err != nil {
			return nil, rep, fmt.Errorf("ledger %s line %d: %w", path, i+1, err)
		}
		rep.Records++
	}
	return ix, rep, nil
}

// Append writes rec durably, then adds it to the index.
func (lg *Ledger) Append(rec Record) error {
	if err := rec.check(); err != nil {
		return fmt.Errorf("ledger: %s record %s: %w", rec.Kind, rec.Serial+rec.Step, err)
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	lg.mu.Lock()
	defer lg.mu.Unlock()
	if _, dup := lg.ix.bySerial[rec.Serial]; dup && rec.Kind == KindIssued {
		return fmt.Errorf("ledger: serial %s is already recorded", rec.Serial)
	}
	if err := pki.AppendLine(lg.dir, lg.path, line, pki.SecretPerm); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return lg.ix.add(&rec)
}

// View calls fn with the index, which no Append changes meanwhile; fn
// must not keep it.
func (lg *Ledger) View(fn func(*Index)) {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	fn(lg.ix)
}
