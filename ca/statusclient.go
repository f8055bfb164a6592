package ca

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"logsys/ca/wire"
	"logsys/pki"
	"logsys/spiffeid"
	"logsys/tlsx"
)

// StatusOptions configures FetchStatus.
type StatusOptions struct {
	// URL is the base URL of `logsys ca`, e.g. https://ca:8443.
	URL string
	// Dir and Env are the PKI directory and environment: the request
	// presents DIR/<env>/<Name>/cert.pem and trusts only the environment's
	// intermediates (ca.pem, bundle.pem), and the CA must be
	// spiffe://<td>/<env>/ca.
	Dir, Env string
	// Name is the admin workload name; DefaultAdmins[0] when empty.
	Name    string
	Timeout time.Duration // 30 s when zero
}

// FetchStatus asks a running CA for its rollover status (GET /v1/status)
// with an admin's client certificate.
func FetchStatus(ctx context.Context, o StatusOptions) (wire.Status, error) {
	var st wire.Status
	if o.Name == "" {
		o.Name = DefaultAdmins[0]
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	m, err := pki.ReadMeta(o.Dir)
	if err != nil {
		return st, fmt.Errorf("ca status: %w", err)
	}
	caID, err := spiffeid.New(m.TrustDomain, o.Env, CAName)
	if err != nil {
		return st, fmt.Errorf("ca status: %w", err)
	}
	src, err := tlsx.NewSource(tlsx.LayoutSource(o.Dir, o.Env, o.Name))
	if err != nil {
		return st, fmt.Errorf("ca status: certificate of %s (issue one with `logsys pki issue --env %s --name %s`): %w", o.Name, o.Env, o.Name, err)
	}
	d, err := tlsx.NewDialer(src, tlsx.AuthorizeID(caID.String()), tlsx.Options{NextProtos: []string{"http/1.1"}}, nil, "ca-status")
	if err != nil {
		return st, fmt.Errorf("ca status: %w", err)
	}
	tr := &http.Transport{DialTLSContext: d.DialContext, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: o.Timeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(o.URL, "/")+PathStatus, nil)
	if err != nil {
		return st, fmt.Errorf("ca status: %w", err)
	}
	res, err := client.Do(req)
	if err != nil {
		return st, fmt.Errorf("ca status: %w", err)
	}
	defer res.Body.Close()
	dec := json.NewDecoder(io.LimitReader(res.Body, 16<<20))
	if res.StatusCode != http.StatusOK {
		var e wire.ErrorResponse
		_ = dec.Decode(&e)
		return st, fmt.Errorf("ca status: %w", &StatusError{Status: res.StatusCode, Reason: e.Reason})
	}
	if err := dec.Decode(&st); err != nil {
		return st, fmt.Errorf("ca status: decode answer: %w", err)
	}
	return st, nil
}

// StatusError is a status request the CA refused.
type StatusError struct {
	Status int
	Reason string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("the ca refused: %s (HTTP %d)", cmp.Or(e.Reason, http.StatusText(e.Status)), e.Status)
}

// IsRefused reports whether err is a refusal by the CA.
func IsRefused(err error) bool {
	var se *StatusError
	return errors.As(err, &se)
}
