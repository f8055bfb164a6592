package roles

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"logsys/event"
	"logsys/internal/testutil"
	"logsys/store"
)

// benchPipeline starts broker, producer and gateway for benchmarks.
// Each option adjusts the gateway's configuration.
func benchPipeline(b *testing.B, opts ...func(*GatewayConfig)) (pkiDir string, pr *Producer, gw *Gateway) {
	b.Helper()
	return benchPipelineWith(b, false, nil, opts...)
}

// benchPipelineWith is benchPipeline with the broker's sync_writes and
// edit (if not nil) adjusting the producer's configuration.
func benchPipelineWith(b *testing.B, syncWrites bool, edit func(*ProducerConfig), opts ...func(*GatewayConfig)) (pkiDir string, pr *Producer, gw *Gateway) {
	b.Helper()
	pkiDir, dir := testPKI(b), b.TempDir()
	bc := DefaultBrokerConfig()
	bc.Identity, bc.Port, bc.DataDir, bc.Logger = fastIdentity(pkiDir, "kafka"), 0, filepath.Join(dir, "kafka"), quietLogger()
	bc.SyncWrites = syncWrites
	br, err := NewBroker(context.Background(), bc)
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(context.Background(), store.Config{DataDir: filepath.Join(dir, "store")})
	if err != nil {
		b.Fatal(err)
	}
	pc := DefaultProducerConfig()
	pc.Identity, pc.Addr, pc.LivenessAddr, pc.Logger = fastIdentity(pkiDir, "producer"), "127.0.0.1:0", "", quietLogger()
	pc.Kafka.Brokers = br.Addrs()
	if edit != nil {
		edit(&pc)
	}
	if pr, err = NewProducer(context.Background(), pc); err != nil {
		b.Fatal(err)
	}
	gc := DefaultGatewayConfig()
	gc.Identity, gc.Addr, gc.LivenessAddr, gc.Logger = fastIdentity(pkiDir, "gateway"), "127.0.0.1:0", "", quietLogger()
	gc.Producer.URL = "https://" + pr.Addr() + "/internal/v1/events"
	gc.SharedStore = st
	for _, o := range opts {
		o(&gc)
	}
	if gw, err = NewGateway(context.Background(), gc); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = pr.Run(ctx); done <- struct{}{} }()
	go func() { _ = gw.Run(ctx); done <- struct{}{} }()
	b.Cleanup(func() {
		cancel()
		<-done
		<-done
		gw.Close()
		pr.Close()
		br.Close()
		st.Close()
	})
	return pkiDir, pr, gw
}

// BenchmarkGatewayPostOne sends POST /api/v1/logs through the gateway's
// real handler stack (routing, authorization, metrics, decoding,
// forwarding) with the client's verified certificate in r.TLS, and waits,
// as a client does, until the producer has Kafka's acknowledgement.
// Parallel senders let the forwarder coalesce as it does under load; the
// sub-benchmarks vary how many batches it has in flight to the producer
// and report the events per batch.
func BenchmarkGatewayPostOne(b *testing.B) {
	for _, workers := range []int{16, 4, 2, 1} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			benchPostOne(b, workers)
		})
	}
}

// BenchmarkGatewayPostBatch is BenchmarkGatewayPostOne with NDJSON
// batches of 500 events from 16 parallel senders.
func BenchmarkGatewayPostBatch(b *testing.B) {
	pkiDir, _, gw := benchPipeline(b)
	body := []byte(strings.Repeat(`{"level":"INFO","message":"GET /api/v1/orders/42 200 3ms","source":"checkout",`+
		`"metadata":{"host":"web-1","region":"eu-west-1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}}`+"\n", 500))
	postParallel(b, gw, clientState(b, pkiDir), 8, "/api/v1/logs/batch", "application/x-ndjson", body)
	b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "events/s")
}

// gatewayClient posts to the producer as the gateway does: its identity,
// HTTP/1.1, four connections.
func gatewayClient(b *testing.B, pkiDir string) *http.Client {
	b.Helper()
	ts, err := newTLS(context.Background(), fastIdentity(pkiDir, "gateway"), nil, quietLogger())
	if err != nil {
		b.Fatal(err)
	}
	client, err := ts.httpClient("bench->producer", false, 4, "producer")
	if err != nil {
		b.Fatal(err)
	}
	return client
}

// clientState is the TLS state of a request from the client identity, as
// the gateway's handlers see it.
func clientState(b *testing.B, pkiDir string) *tls.ConnectionState {
	b.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, "dev", "client", "cert.pem"), filepath.Join(pkiDir, "dev", "client", "key.pem"))
	if err != nil {
		b.Fatal(err)
	}
	return &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{cert.Leaf}}
}

// postParallel posts body to the gateway's handler stack from
// parallelism x GOMAXPROCS goroutines until the benchmark ends; every
// answer must be 202.
func postParallel(b *testing.B, gw *Gateway, state *tls.ConnectionState, parallelism int, path, ctype string, body []byte) {
	h := gw.Handler()
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
			req.Header.Set("Content-Type", ctype)
			req.TLS = state
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusAccepted {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
}

func benchPostOne(b *testing.B, workers int) {
	pkiDir, pr, gw := benchPipeline(b, func(c *GatewayConfig) { c.Producer.Workers = workers })
	body := []byte(`{"level":"INFO","message":"GET /orders/42 200 3ms","source":"bench"}`)
	posts := func() float64 {
		return testutil.MetricValue(b, pr.metrics.reg, "logsys_http_requests_total", map[string]string{"route": EventsPath, "code": "202"})
	}
	before := posts()
	postParallel(b, gw, clientState(b, pkiDir), 32, "/api/v1/logs", "application/json", body)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if n := posts() - before; n > 0 {
		b.ReportMetric(float64(b.N)/n, "events/post")
	}
}

// BenchmarkProducerBatch posts batches of events of one source to the
// producer over mutual TLS, as frames (the gateway's form; packed, the
// default, and one record per event) and as a JSON array (one record per
// event), and waits for Kafka's acknowledgement of every record
// (acks=all, idempotent, lz4, embedded broker).
func BenchmarkProducerBatch(b *testing.B) {
	for _, arm := range []struct {
		ctype string
		pack  bool
	}{{FramesType, true}, {FramesType, false}, {"application/json", false}} {
		for _, n := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("body=%s/pack=%v/events=%d", strings.TrimPrefix(arm.ctype, "application/"), arm.pack, n), func(b *testing.B) {
				benchProducer(b, arm.ctype, n, false, arm.pack)
			})
		}
	}
}

// BenchmarkProducerSyncWrites is what all.broker.sync_writes costs: the
// producer benchmark (frames, as the gateway sends) with the embedded
// broker fsyncing every batch before it acknowledges, and without, as arms
// of one run (docs/bench.md).
func BenchmarkProducerSyncWrites(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		for _, sync := range []bool{false, true} {
			b.Run(fmt.Sprintf("events=%d/sync_writes=%v", n, sync), func(b *testing.B) { benchProducer(b, FramesType, n, sync, true) })
		}
	}
}

func benchProducer(b *testing.B, ctype string, n int, syncWrites, pack bool) {
	pkiDir, pr, _ := benchPipelineWith(b, syncWrites, func(c *ProducerConfig) { c.Pack = pack })
	client := gatewayClient(b, pkiDir)
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = event.Event{ID: event.NewID(), Level: event.Info, Message: "GET /orders/42 200 3ms", Source: "bench",
			Timestamp: time.Now().UTC(), Identity: "spiffe://logsys.local/dev/client"}
	}
	var body []byte
	var err error
	if ctype == FramesType {
		body, err = appendFrames(nil, evs)
	} else {
		body, err = json.Marshal(evs)
	}
	if err != nil {
		b.Fatal(err)
	}
	url := "https://" + pr.Addr() + EventsPath
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Post(url, ctype, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
}
