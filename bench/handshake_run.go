package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"time"

	"logsys/pki"
	"logsys/tlsx"
)

// keyTypes are the leaf key types the handshake table can measure.
var keyTypes = map[string]pki.KeyType{
	"ecdsa-p256": pki.KeyECDSAP256, "ed25519": pki.KeyEd25519, "rsa2048": pki.KeyRSA2048, "rsa4096": pki.KeyRSA4096,
}

// handshakes fills the handshake table: per leaf key type and key
// exchange, full and resumed handshakes with the product's server
// configuration and with a bare crypto/tls one holding the same keys.
func (r *runner) handshakes(ctx context.Context, dir string) error {
	for _, kt := range r.cfg.KeyTypes {
		if !r.left(3*time.Second, "handshakes "+kt) {
			continue
		}
		r.prog.set("pki " + kt)
		pkiDir := filepath.Join(dir, "pki-"+kt)
		if err := makePKI(ctx, pkiDir, keyTypes[kt]); err != nil {
			return err
		}
		certF, keyF, caF := clientFiles(pkiDir)
		for _, kx := range []struct {
			name string
			kx   tlsx.KeyExchange
		}{{"hybrid X25519MLKEM768", tlsx.KeyExchangeDefault}, {"X25519", tlsx.KeyExchangeX25519}} {
			r.prog.set(fmt.Sprintf("handshakes %s %s", kt, kx.name))
			cc, err := clientTLS(certF, keyF, caF, false, curvesFor(kx.kx))
			if err != nil {
				return err
			}
			prod, err := productServerTLS(pkiDir, kx.kx)
			if err != nil {
				return err
			}
			bare, err := bareServerTLS(pkiDir, curvesFor(kx.kx))
			if err != nil {
				return err
			}
			h := Handshake{KeyType: kt, KeyExchange: kx.name}
			var res [4]hsResult
			for i, c := range []struct {
				sc     *tls.Config
				resume bool
			}{{prod, false}, {prod, true}, {bare, false}, {bare, true}} {
				if res[i], err = measureHandshakes(ctx, c.sc, cc, r.cfg.Handshakes, c.resume); err != nil {
					return fmt.Errorf("handshakes %s %s: %w", kt, kx.name, err)
				}
				h.Failed += res[i].failed
			}
			us := func(x hsResult) float64 { return float64(x.perHandshake().Nanoseconds()) / 1000 }
			h.FullUs, h.ResumedUs, h.BareFullUs, h.BareResumedUs = us(res[0]), us(res[1]), us(res[2]), us(res[3])
			if h.BareFullUs > 0 {
				h.FullVsBare = h.FullUs / h.BareFullUs
			}
			h.Count = res[1].count
			if res[1].count > 0 {
				h.HitRate = float64(res[1].resumed) / float64(res[1].count)
			}
			r.rep.Handshakes = append(r.rep.Handshakes, h)
		}
	}
	return nil
}
