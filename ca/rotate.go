package ca

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"logsys/pki"
)

// ErrRolloverInProgress is returned by Rotate when the environment's
// rollover does not allow the requested rotation yet.
var ErrRolloverInProgress = errors.New("rollover in progress")

// Served reports whether an online CA serves env of the PKI directory
// dir: the environment has an issuance ledger.
func Served(dir, env string) (bool, error) {
	_, err := os.Stat(pki.Layout{Dir: dir}.Ledger(env))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("rotate: %w", err)
}

// Rotate is `logsys pki rotate` for an environment an online CA serves
// (Served): with Intermediate it only prepares the next intermediate
// (pki.RotateOptions.KeepLeaves), and the CA activates it once every
// member reports it, and retires the previous one once no leaf it signed
// is left (PlanRollover). It refuses to prepare another while the
// previous intermediate is still trusted, and to re-issue leaf files
// while the next intermediate does not sign yet: members that have not
// picked it up would refuse them. For an environment no CA serves it is
// pki.Rotate.
func Rotate(ctx context.Context, o pki.RotateOptions) (pki.Report, error) {
	served, err := Served(o.Dir, o.Env)
	if err != nil || !served {
		if err != nil {
			return pki.Report{}, err
		}
		return pki.Rotate(ctx, o)
	}
	l := pki.Layout{Dir: o.Dir}
	_, err = os.Stat(l.PrevCACert(o.Env))
	inRollover := err == nil
	switch {
	case o.Intermediate && inRollover:
		return pki.Report{}, fmt.Errorf("pki rotate: %w in %s: the previous intermediate (%s) is still trusted; prepare the next one once `logsys ca status` shows it retired",
			ErrRolloverInProgress, o.Env, l.PrevCACert(o.Env))
	case o.Intermediate:
		o.KeepLeaves = true
		return pki.Rotate(ctx, o)
	case inRollover:
		certs, err := pki.ReadCertificates(l.CACert(o.Env))
		if err != nil {
			return pki.Report{}, fmt.Errorf("pki rotate: %w", err)
		}
		ix, _, err := ReadLedger(o.Dir, o.Env)
		if err != nil {
			return pki.Report{}, fmt.Errorf("pki rotate: %w", err)
		}
		if !activatedIn(ix.Steps(), ix.firstIssued, fingerprint(certs[0])) {
			return pki.Report{}, fmt.Errorf("pki rotate: %w in %s: the next intermediate does not sign yet (see `logsys ca status`); leaf files it signed now would be refused by members that do not trust it yet",
				ErrRolloverInProgress, o.Env)
		}
	}
	return pki.Rotate(ctx, o)
}
