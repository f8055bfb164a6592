package roles

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"logsys/event"
	"logsys/store"
)

// benchPipeline starts broker, producer and gateway for benchmarks.
func benchPipeline(b *testing.B) (pkiDir string, pr *Producer, gw *Gateway) {
	b.Helper()
	return benchPipelineWith(b, false)
}

// benchPipelineWith is benchPipeline with the broker's sync_writes.
func benchPipelineWith(b *testing.B, syncWrites bool) (pkiDir string, pr *Producer, gw *Gateway) {
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
	if pr, err = NewProducer(context.Background(), pc); err != nil {
		b.Fatal(err)
	}
	gc := DefaultGatewayConfig()
	gc.Identity, gc.Addr, gc.LivenessAddr, gc.Logger = fastIdentity(pkiDir, "gateway"), "127.0.0.1:0", "", quietLogger()
	gc.Producer.URL = "https://" + pr.Addr() + "/internal/v1/events"
	gc.SharedStore = st
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
// Parallel senders let the forwarder coalesce as it does under load.
func BenchmarkGatewayPostOne(b *testing.B) {
	pkiDir, _, gw := benchPipeline(b)
	cert, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, "dev", "client", "cert.pem"), filepath.Join(pkiDir, "dev", "client", "key.pem"))
	if err != nil {
		b.Fatal(err)
	}
	state := &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: nil}
	state.PeerCertificates = append(state.PeerCertificates, cert.Leaf)
	body := []byte(`{"level":"INFO","message":"GET /orders/42 200 3ms","source":"bench"}`)
	h := gw.Handler()
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/logs", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.TLS = state
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusAccepted {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkProducerBatch posts batches of events to the producer over
// mutual TLS as the gateway does and waits for Kafka's acknowledgement of
// every record (acks=all, idempotent, lz4, embedded broker).
func BenchmarkProducerBatch(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) { benchProducerBatch(b, n, false) })
	}
}

// BenchmarkProducerSyncWrites is what all.broker.sync_writes costs: the
// producer benchmark with the embedded broker fsyncing every batch before
// it acknowledges, and without, as arms of one run (docs/bench.md).
func BenchmarkProducerSyncWrites(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		for _, sync := range []bool{false, true} {
			b.Run(fmt.Sprintf("events=%d/sync_writes=%v", n, sync), func(b *testing.B) { benchProducerBatch(b, n, sync) })
		}
	}
}

func benchProducerBatch(b *testing.B, n int, syncWrites bool) {
	pkiDir, pr, _ := benchPipelineWith(b, syncWrites)
	ts, err := newTLS(context.Background(), fastIdentity(pkiDir, "gateway"), nil, quietLogger())
	if err != nil {
		b.Fatal(err)
	}
	client, err := ts.httpClient("bench->producer", false, 4, "producer")
	if err != nil {
		b.Fatal(err)
	}
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = event.Event{ID: event.NewID(), Level: event.Info, Message: "GET /orders/42 200 3ms", Source: "bench",
			Timestamp: time.Now().UTC(), Identity: "spiffe://logsys.local/dev/client"}
	}
	body, err := json.Marshal(evs)
	if err != nil {
		b.Fatal(err)
	}
	url := "https://" + pr.Addr() + "/internal/v1/events"
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
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
