package roles

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"

	"logsys/event"
	"logsys/internal/testutil"
)

// TestOTLPExporterRecordsReachTheStore: the OTel Go SDK's OTLP/HTTP
// exporter, with the client certificate, sends records through the real
// gateway, producer, broker and consumer; they are stored with the
// mapping of docs/otlp.md and the identity of the certificate. Exporting
// the same records again (what an exporter's retry does) adds nothing and
// conflicts with nothing.
func TestOTLPExporterRecordsReachTheStore(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	tc := clientTLS(t, p.pkiDir, "dev", "client")
	ts := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
	for _, c := range []struct {
		name string
		opts []otlploghttp.Option
	}{
		{"protobuf", nil},
		{"protobuf-gzip", []otlploghttp.Option{otlploghttp.WithCompression(otlploghttp.GzipCompression)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			svc := "checkout-" + c.name
			recs := sdkRecords(t, svc, testSpan, func(ctx context.Context, l otellog.Logger) {
				l.Emit(ctx, record(ts, otellog.SeverityWarn, "WARN", attribute.StringValue("disk almost full"),
					attribute.String("disk", "/var"), attribute.Float64("used", 0.93)))
				r := record(ts.Add(time.Millisecond), otellog.SeverityError2, "",
					attribute.MapValue(attribute.String("user", "ann"), attribute.Int("items", 3)))
				r.SetEventName("cart.failed")
				l.Emit(context.Background(), r) // no span
			})
			exp := exporter(t, p.gateway.Addr(), tc, c.opts...)
			if err := exp.Export(context.Background(), recs); err != nil {
				t.Fatalf("export: %v", err)
			}
			var got []event.Event
			testutil.Eventually(t, 15*time.Second, "both records to be stored", func() bool {
				got = got[:0]
				for _, r := range storedBy(t, p.store, svc) {
					got = append(got, r.Event)
				}
				return len(got) == 2
			})
			cart, disk := got[0], got[1] // newest first
			if disk.Level != event.Warn || disk.Message != "disk almost full" || !disk.Timestamp.Equal(ts.Truncate(time.Microsecond)) ||
				disk.Identity != "spiffe://logsys.local/dev/client" {
				t.Errorf("disk record %+v", disk)
			}
			md := disk.Metadata
			res, _ := md["resource"].(map[string]any)
			scope, _ := md["scope"].(map[string]any)
			attrs, _ := md["attributes"].(map[string]any)
			if res["service.name"] != svc || res["host.name"] != "web-1" || scope["name"] != "shop/pay" || scope["version"] != "1.2.3" ||
				attrs["disk"] != "/var" || attrs["used"] != 0.93 || md["trace_id"] != testSpan.TraceID().String() ||
				md["span_id"] != testSpan.SpanID().String() || md["flags"] != float64(1) || md["severity_text"] != "WARN" ||
				md["severity_number"] != float64(13) {
				t.Errorf("disk metadata %v", md)
			}
			if cart.Level != event.Error || cart.Message != `{"items":3,"user":"ann"}` || cart.Metadata["event_name"] != "cart.failed" ||
				cart.Metadata["trace_id"] != nil {
				t.Errorf("cart record %+v", cart)
			}
			// The exporter's retry of a request whose answer it did not see.
			if err := exp.Export(context.Background(), recs); err != nil {
				t.Fatalf("export again: %v", err)
			}
			testutil.Eventually(t, 15*time.Second, "the consumer to drain the topic", func() bool { return drained(t, p) })
			if n := len(storedBy(t, p.store, svc)); n != 2 {
				t.Fatalf("stored %d records after the retry, want 2", n)
			}
		})
	}
	reg := p.consumer.metrics.reg
	for _, result := range []string{"dead_lettered", resultIDConflict} {
		if n := testutil.MetricValue(t, reg, "logsys_events_total", map[string]string{"role": "consumer", "result": result}); n != 0 {
			t.Errorf("consumer %s = %v, want 0", result, n)
		}
	}
	if n := testutil.MetricValue(t, p.producer.metrics.reg, "logsys_events_total", map[string]string{"role": "producer", "result": "accepted"}); n != 8 {
		t.Errorf("producer accepted %v events, want 8 (2 records x 2 exports x 2 encodings)", n)
	}
}

// TestOTLPRefusesWhatTheStoreWouldRefuse: a record with a NUL byte is
// refused at the gateway, never acknowledged and dead-lettered later:
// alone, the export fails with 400 (the exporter reports it, and does not
// retry); beside a good record, the good one is stored and the exporter
// reports the partial success.
func TestOTLPRefusesWhatTheStoreWouldRefuse(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	exp := exporter(t, p.gateway.Addr(), clientTLS(t, p.pkiDir, "dev", "client"))
	ts := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	bad := record(ts, otellog.SeverityInfo, "", attribute.StringValue("nul \x00 byte"))
	good := record(ts, otellog.SeverityInfo, "", attribute.StringValue("storable"))

	alone := sdkRecords(t, "refused", trace.SpanContext{}, func(ctx context.Context, l otellog.Logger) { l.Emit(ctx, bad) })
	err := exp.Export(context.Background(), alone)
	if err == nil || !strings.Contains(err.Error(), "400 Bad Request") || !strings.Contains(err.Error(), "without NUL bytes") {
		t.Fatalf("export of the NUL record: %v, want the 400 with its reason", err)
	}

	mixed := sdkRecords(t, "refused", trace.SpanContext{}, func(ctx context.Context, l otellog.Logger) {
		l.Emit(ctx, good)
		l.Emit(ctx, bad)
	})
	err = exp.Export(context.Background(), mixed)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 log records refused") ||
		!strings.Contains(err.Error(), "logRecords[1].body") {
		t.Fatalf("export of a good and a NUL record: %v, want the partial success naming the second", err)
	}
	testutil.Eventually(t, 15*time.Second, "the good record to be stored", func() bool { return len(storedBy(t, p.store, "refused")) == 1 })
	testutil.Eventually(t, 15*time.Second, "the consumer to drain the topic", func() bool { return drained(t, p) })
	if recs := storedBy(t, p.store, "refused"); len(recs) != 1 || recs[0].Message != "storable" {
		t.Fatalf("stored %+v, want only the storable record", recs)
	}
	if n := testutil.MetricValue(t, p.consumer.metrics.reg, "logsys_events_total", map[string]string{"result": "dead_lettered"}); n != 0 {
		t.Errorf("dead_lettered = %v, want 0", n)
	}
	if n := testutil.MetricValue(t, p.gateway.metrics.reg, "logsys_events_total", map[string]string{"role": "gateway", "result": "rejected"}); n != 2 {
		t.Errorf("gateway rejected = %v, want 2", n)
	}
}

// TestOTLPNeedsTheClientCertificate: without a certificate the handshake
// fails (the export fails, the gateway counts a no_cert refusal), and a certificate of an identity that is not a client (here the
// scraper's, which the listener admits for /metrics) gets 403.
func TestOTLPNeedsTheClientCertificate(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	recs := sdkRecords(t, "anonymous", trace.SpanContext{}, func(ctx context.Context, l otellog.Logger) {
		l.Emit(ctx, record(time.Now(), otellog.SeverityInfo, "", attribute.StringValue("m")))
	})
	// With TLS 1.3 the client learns of the refusal after its side of the
	// handshake: as "certificate required" or as a write on a closed
	// connection. The gateway counts it.
	err := exporter(t, p.gateway.Addr(), clientTLS(t, p.pkiDir, "dev", "")).Export(context.Background(), recs)
	if err == nil {
		t.Fatal("export without a certificate succeeded")
	}
	testutil.Eventually(t, 5*time.Second, "the refused handshake to be counted", func() bool {
		return testutil.MetricValue(t, p.gateway.metrics.reg, "logsys_tls_handshake_failures_total", map[string]string{"reason": "no_cert"}) >= 1
	})
	err = exporter(t, p.gateway.Addr(), clientTLS(t, p.pkiDir, "dev", "prometheus")).Export(context.Background(), recs)
	if err == nil || !strings.Contains(err.Error(), "403 Forbidden") {
		t.Fatalf("export as the scraper: %v, want 403", err)
	}
	err = exporter(t, p.gateway.Addr(), clientTLS(t, p.pkiDir, "staging", "client")).Export(context.Background(), recs)
	if err == nil {
		t.Fatal("export with a staging certificate to a dev gateway succeeded")
	}
	if n := len(storedBy(t, p.store, "anonymous")); n != 0 {
		t.Fatalf("stored %d records", n)
	}
}

// TestOTLPExporterBacksOffOn503: with the producer down the gateway
// answers 503, with Retry-After while its breaker is open; the SDK's
// exporter retries (waiting at least that long) and, once the producer is
// back, the record is stored exactly once.
func TestOTLPExporterBacksOffOn503(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	addr := p.producer.Addr()
	gc := DefaultGatewayConfig()
	gc.Identity, gc.Addr, gc.LivenessAddr, gc.Logger = fastIdentity(p.pkiDir, "gateway"), "127.0.0.1:0", "127.0.0.1:0", quietLogger()
	gc.Producer.URL, gc.Producer.Retries, gc.Producer.BreakerFailures, gc.Producer.BreakerCooldown = "https://"+addr, 0, 1, time.Second
	gc.SharedStore = p.store
	gw, err := NewGateway(context.Background(), gc)
	if err != nil {
		t.Fatal(err)
	}
	p.run("gateway-503", gw.Run)
	t.Cleanup(func() { p.stops["gateway-503"](); gw.Close() })
	p.stops["producer"]()
	p.producer.Close()

	restarted := make(chan error, 1)
	ct := &countingTransport{base: &http.Transport{TLSClientConfig: clientTLS(t, p.pkiDir, "dev", "client")}}
	ct.onAnswer = func(n int, resp *http.Response) {
		if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" && p.stops["producer"] == nil {
			restarted <- p.restartProducer(addr) // the retry comes after Retry-After
		}
	}
	exp := exporter(t, gw.Addr(), nil, otlploghttp.WithHTTPClient(&http.Client{Transport: ct, Timeout: 20 * time.Second}),
		otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: true, InitialInterval: 10 * time.Millisecond, MaxInterval: 100 * time.Millisecond, MaxElapsedTime: 30 * time.Second}))
	recs := sdkRecords(t, "backoff", trace.SpanContext{}, func(ctx context.Context, l otellog.Logger) {
		l.Emit(ctx, record(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC), otellog.SeverityInfo, "", attribute.StringValue("after the outage")))
	})
	start := time.Now()
	err = exp.Export(context.Background(), recs)
	if err != nil {
		t.Fatalf("export: %v (answers %v)", err, ct.answers)
	}
	if err := <-restarted; err != nil {
		t.Fatalf("restart the producer: %v", err)
	}
	// The first attempt fails and opens the breaker (503, no Retry-After:
	// the exporter backs off exponentially); the next ones meet the open
	// breaker (503, Retry-After: 1); after the restart, 200.
	last := ct.answers[len(ct.answers)-1]
	sawRetryAfter := false
	for _, a := range ct.answers[:len(ct.answers)-1] {
		if a.status != http.StatusServiceUnavailable {
			t.Fatalf("answers %v: want 503s before the 200", ct.answers)
		}
		sawRetryAfter = sawRetryAfter || a.retryAfter == "1"
	}
	if len(ct.answers) < 3 || last.status != http.StatusOK || !sawRetryAfter || time.Since(start) < time.Second {
		t.Fatalf("answers %v in %v: want 503, 503 with Retry-After: 1, ..., 200 after at least a second", ct.answers, time.Since(start))
	}
	testutil.Eventually(t, 15*time.Second, "the record to be stored", func() bool { return len(storedBy(t, p.store, "backoff")) == 1 })
	t.Logf("%d attempts: %v", len(ct.answers), ct.answers)
}

// restartProducer starts a new producer on addr, where the stopped one
// listened.
func (p *pipeline) restartProducer(addr string) error {
	pc := DefaultProducerConfig()
	pc.Identity, pc.Addr, pc.LivenessAddr, pc.Logger = fastIdentity(p.pkiDir, "producer"), addr, "127.0.0.1:0", quietLogger()
	pc.Kafka.Brokers = p.broker.Addrs()
	pr, err := NewProducer(context.Background(), pc)
	if err != nil {
		return err
	}
	p.producer = pr
	p.run("producer", pr.Run)
	return nil
}
