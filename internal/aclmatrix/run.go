package aclmatrix

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"logsys/kafkaacl"
)

// cellTimeout bounds one cell; a refusal or an allowed answer takes
// milliseconds.
const cellTimeout = 20 * time.Second

// Check runs the matrix against tg, logs it, and fails t for every cell
// the broker got wrong.
func Check(t testing.TB, tg Target) []Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rs, err := Run(ctx, tg)
	if err != nil {
		t.Fatalf("acl matrix on %s: %v", tg.Name, err)
	}
	t.Logf("\n%s", Format(tg.Name, rs))
	for _, r := range rs {
		if !r.OK() {
			want := "refused"
			if r.Want {
				want = "allowed"
			}
			t.Errorf("%s: %s by %s: got %s, want %s (%s)", tg.Name, r.Op, r.Identity, r.Got, want, r.Detail)
		}
	}
	return rs
}

// Run seeds what the probes need (a record in partition 0 of both topics,
// committed offsets of the group), then tries every cell, one identity at
// a time. An identity whose connection the broker refuses gets DeniedTLS
// in every row.
func Run(ctx context.Context, tg Target) ([]Result, error) {
	scratch := fmt.Sprintf("acl-matrix-%d", time.Now().UnixNano())
	offset, err := seed(ctx, tg)
	if err != nil {
		return nil, fmt.Errorf("seed (with the identities that are allowed to): %w", err)
	}
	var rs []Result
	for _, id := range Identities {
		dial, err := tg.Dial(id)
		if err != nil {
			return nil, fmt.Errorf("dialer of %s: %w", id, err)
		}
		connErr := apiVersions(ctx, dial, tg.Seeds[0])
		for _, op := range Ops {
			r := Result{Op: op.Name, Identity: id, Want: slices.Contains(op.Allowed, id)}
			if connErr != nil {
				r.Got, r.Detail = classify(connErr)
				if r.Got != DeniedTLS {
					r.Got = Failed
				}
			} else {
				p := &probe{id: id, seeds: tg.Seeds, dial: dial, scratch: scratch, offset: offset}
				cctx, cancel := context.WithTimeout(ctx, cellTimeout)
				err := op.try(cctx, p)
				cancel()
				p.close()
				r.Got, r.Detail = classify(err)
			}
			rs = append(rs, r)
		}
	}
	return rs, nil
}

// seed writes a record to partition 0 of each topic (as the identity
// allowed to) and makes sure the group exists with a committed offset
// for partition 0, which it returns: the group's own if it has one.
func seed(ctx context.Context, tg Target) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, s := range []struct{ id, topic string }{{kafkaacl.Producer, kafkaacl.TopicEvents}, {kafkaacl.Consumer, kafkaacl.TopicDLQ}} {
		p, err := probeOf(tg, s.id)
		if err != nil {
			return 0, err
		}
		cl, err := p.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err == nil {
			err = cl.ProduceSync(ctx, &kgo.Record{Topic: s.topic, Partition: 0, Value: []byte("acl matrix seed")}).FirstErr()
		}
		p.close()
		if err != nil {
			return 0, fmt.Errorf("produce to %s as %s: %w", s.topic, s.id, err)
		}
	}
	p, err := probeOf(tg, kafkaacl.Consumer)
	if err != nil {
		return 0, err
	}
	defer p.close()
	adm, err := p.admin()
	if err != nil {
		return 0, err
	}
	// A group that does not exist yet is no error (kfake answers
	// GROUP_ID_NOT_FOUND, Kafka no offsets).
	committed, err := adm.FetchOffsets(ctx, kafkaacl.Group)
	if err != nil && (isAuth(err) || !isKafkaErr(err)) {
		return 0, fmt.Errorf("fetch offsets of %s as consumer: %w", kafkaacl.Group, err)
	}
	offset := int64(0)
	if o, ok := committed.Lookup(kafkaacl.TopicEvents, 0); ok && o.Err == nil && o.At >= 0 {
		offset = o.At
	}
	var os kadm.Offsets
	os.AddOffset(kafkaacl.TopicEvents, 0, offset, -1)
	resp, err := adm.CommitOffsets(ctx, kafkaacl.Group, os)
	if err == nil {
		err = resp.Error()
	}
	// A group with live members refuses a commit from outside (not for
	// authorization); it exists then, which is all the probes need.
	if err != nil && (isAuth(err) || !isKafkaErr(err)) {
		return 0, fmt.Errorf("commit in %s as consumer: %w", kafkaacl.Group, err)
	}
	return offset, nil
}

func probeOf(tg Target, id string) (*probe, error) {
	dial, err := tg.Dial(id)
	if err != nil {
		return nil, fmt.Errorf("dialer of %s: %w", id, err)
	}
	return &probe{id: id, seeds: tg.Seeds, dial: dial}, nil
}

// apiVersions dials addr and completes one ApiVersions round trip, which
// brokers answer before any authorization: an error means the connection
// itself was refused. A TLS 1.3 client learns that its certificate was
// refused only on its first read.
func apiVersions(ctx context.Context, dial DialFunc, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return err
		}
	}
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 0
	if _, err := conn.Write(kmsg.NewRequestFormatter(kmsg.FormatterClientID("logsys-acl-matrix")).AppendRequest(nil, req, 1)); err != nil {
		return err
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return err
	}
	_, err = io.CopyN(io.Discard, conn, int64(binary.BigEndian.Uint32(size[:])))
	return err
}

// classify turns what a probe returned into an outcome. A Kafka error
// other than an authorization error means the request passed the
// authorizer (brokers authorize first) and was answered otherwise.
func classify(err error) (Outcome, string) {
	switch {
	case err == nil:
		return Allowed, ""
	case isAuth(err):
		return Denied, err.Error()
	case isTLSRefusal(err):
		return DeniedTLS, err.Error()
	case isKafkaErr(err):
		return Allowed, err.Error()
	default:
		return Failed, err.Error()
	}
}

func isAuth(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.GroupAuthorizationFailed) ||
		errors.Is(err, kerr.ClusterAuthorizationFailed) || errors.Is(err, kerr.TransactionalIDAuthorizationFailed)
}

func isKafkaErr(err error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke)
}

func isTLSRefusal(err error) bool {
	var alert tls.AlertError
	return errors.As(err, &alert) || strings.Contains(err.Error(), "remote error: tls:")
}
