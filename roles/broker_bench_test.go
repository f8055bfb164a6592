package roles

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"io"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// discardConn is a net.Conn whose writes vanish.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return io.Discard.Write(p) }

// BenchmarkBrokerObserveFetch is what watching responses for
// authorization refusals costs on the consumer's hot path: one 1 MiB
// fetch response written through principalConn. Random records contain an
// error-code-like byte pair early, so the response is decoded; text
// records (no zero byte) are scanned to the end and not decoded.
func BenchmarkBrokerObserveFetch(b *testing.B) {
	b.Run("records=random", func(b *testing.B) {
		recs := make([]byte, 1<<20)
		_, _ = rand.Read(recs)
		benchObserveFetch(b, recs)
	})
	b.Run("records=text", func(b *testing.B) {
		benchObserveFetch(b, bytes.Repeat([]byte(`{"level":"INFO","message":"GET /orders/42 200 3ms"}`), (1<<20)/51))
	})
}

func benchObserveFetch(b *testing.B, recs []byte) {
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 16
	t := kmsg.NewFetchResponseTopic()
	t.TopicID = [16]byte{1}
	p := kmsg.NewFetchResponseTopicPartition()
	p.RecordBatches = recs
	t.Partitions = append(t.Partitions, p)
	resp.Topics = append(resp.Topics, t)
	frame := append([]byte{0, 0, 0, 0, 0, 0, 0, 7, 0}, resp.AppendTo(nil)...)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))

	c := &principalConn{Conn: discardConn{}, user: "consumer", denials: newDenials(quietLogger())}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		c.pending = append(c.pending[:0], pendingReq{corr: 7, key: int16(kmsg.Fetch), version: 16})
		if _, err := c.Write(frame); err != nil {
			b.Fatal(err)
		}
	}
}
