package roles

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"

	"github.com/twmb/franz-go/pkg/kadm"

	"logsys/store"
)

// captured is a log processor that keeps what is emitted, so a test can
// hand the records to an exporter itself and see the export's error.
type captured struct{ recs []sdklog.Record }

func (c *captured) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (c *captured) OnEmit(_ context.Context, r *sdklog.Record) error {
	c.recs = append(c.recs, r.Clone())
	return nil
}
func (c *captured) Shutdown(context.Context) error   { return nil }
func (c *captured) ForceFlush(context.Context) error { return nil }

// sdkRecords emits records with the OTel SDK's logger of scope "shop/pay"
// under a resource naming service; emit receives the logger and a context
// carrying span.
func sdkRecords(t *testing.T, service string, span trace.SpanContext, emit func(context.Context, otellog.Logger)) []sdklog.Record {
	t.Helper()
	res := resource.NewSchemaless(attribute.String("service.name", service), attribute.String("host.name", "web-1"))
	c := &captured{}
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(c))
	defer lp.Shutdown(context.Background())
	ctx := trace.ContextWithSpanContext(context.Background(), span)
	emit(ctx, lp.Logger("shop/pay", otellog.WithInstrumentationVersion("1.2.3")))
	return c.recs
}

// record builds one SDK log record.
func record(ts time.Time, sev otellog.Severity, text string, body attribute.Value, attrs ...attribute.KeyValue) otellog.Record {
	var r otellog.Record
	r.SetTimestamp(ts)
	r.SetSeverity(sev)
	r.SetSeverityText(text)
	r.SetBody(body)
	r.AddAttributes(attrs...)
	return r
}

// exporter is the OTel Go SDK's OTLP/HTTP log exporter aimed at the
// gateway, presenting tc; retries off unless opts turn them on.
func exporter(t *testing.T, addr string, tc *tls.Config, opts ...otlploghttp.Option) *otlploghttp.Exporter {
	t.Helper()
	base := []otlploghttp.Option{otlploghttp.WithEndpoint(addr), otlploghttp.WithTLSClientConfig(tc),
		otlploghttp.WithTimeout(20 * time.Second), otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false})}
	exp, err := otlploghttp.New(context.Background(), append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exp.Shutdown(context.Background()) })
	return exp
}

// storedBy returns the stored records of source.
func storedBy(t *testing.T, s store.Store, source string) []store.Record {
	t.Helper()
	recs, err := s.Query(context.Background(), store.Filter{Source: source, Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

var testSpan = trace.NewSpanContext(trace.SpanContextConfig{
	TraceID:    trace.TraceID{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c},
	SpanID:     trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
	TraceFlags: trace.FlagsSampled,
})

// countingTransport counts the requests an exporter makes and what it
// was answered; onAnswer (optional) runs after each answer.
type countingTransport struct {
	base     http.RoundTripper
	onAnswer func(n int, resp *http.Response)
	answers  []exportAnswer
}

type exportAnswer struct {
	status     int
	retryAfter string
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err != nil {
		c.answers = append(c.answers, exportAnswer{})
		return resp, err
	}
	c.answers = append(c.answers, exportAnswer{resp.StatusCode, resp.Header.Get("Retry-After")})
	if c.onAnswer != nil {
		c.onAnswer(len(c.answers), resp)
	}
	return resp, nil
}

// drained reports whether the consumer has committed everything the
// topic holds: every record produced so far has been handled.
func drained(t *testing.T, p *pipeline) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lags, err := kadm.NewClient(superClient(t, p.broker)).Lag(ctx, DefaultConsumerConfig().Group)
	if err != nil {
		return false
	}
	l, ok := lags[DefaultConsumerConfig().Group]
	return ok && l.Error() == nil && len(l.Lag) > 0 && l.Lag.Total() == 0
}
