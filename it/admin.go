package it

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"logsys/kafkaacl"
)

// Partitions of each pipeline topic.
const Partitions = 3

// NewClient returns a franz-go client for workload name of c's
// environment, dialing through the product's mutual-TLS dialer.
func (c Cluster) NewClient(name string, opts ...kgo.Opt) (*kgo.Client, error) {
	d, err := Dialer(c.PKI, c.Env, name)
	if err != nil {
		return nil, err
	}
	base := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.Dialer(d.DialContext)}
	return kgo.NewClient(append(base, opts...)...)
}

// Grants are kafkaacl.Grants as kadm builders: the producer writes
// events, the consumer reads them in its group and writes dead letters.
// Nothing else is allowed to anyone but the super user (the brokers'
// identity).
func Grants() []*kadm.ACLBuilder {
	var bs []*kadm.ACLBuilder
	for _, g := range kafkaacl.Grants() {
		b := kadm.NewACLs().Allow(g.Principal).Operations(g.Op).ResourcePatternType(kadm.ACLPatternLiteral)
		switch g.Resource {
		case kmsg.ACLResourceTypeTopic:
			b = b.Topics(g.Name)
		case kmsg.ACLResourceTypeGroup:
			b = b.Groups(g.Name)
		case kmsg.ACLResourceTypeCluster:
			b = b.Clusters()
		default:
			panic(fmt.Sprintf("kafkaacl grant on an unknown resource type: %v", g))
		}
		bs = append(bs, b)
	}
	return bs
}

// Setup creates the pipeline's topics (replication factor rf) and ACLs
// through adm, which must act as the super user. It is idempotent and
// retries until ctx ends while the cluster is still electing or
// registering brokers.
func Setup(ctx context.Context, adm *kadm.Client, rf int16) error {
	var last error
	for {
		if last = setupOnce(ctx, adm, rf); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka setup: %w (last error: %w)", ctx.Err(), last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func setupOnce(ctx context.Context, adm *kadm.Client, rf int16) error {
	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		return fmt.Errorf("list brokers: %w", err)
	}
	if len(brokers) < int(rf) {
		return fmt.Errorf("%d brokers registered, need %d", len(brokers), rf)
	}
	res, err := adm.CreateTopics(ctx, Partitions, rf, nil, TopicEvents, TopicDLQ)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for _, r := range res {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", r.Topic, r.Err)
		}
	}
	for _, b := range Grants() {
		results, err := adm.CreateACLs(ctx, b)
		if err != nil {
			return fmt.Errorf("create acls: %w", err)
		}
		for _, r := range results {
			if r.Err != nil {
				return fmt.Errorf("create acl %s %v on %s: %w", r.Principal, r.Operation, r.Name, r.Err)
			}
		}
	}
	return healthyOnce(ctx, adm, rf)
}

// WaitHealthy waits until rf brokers are registered and every partition
// of the pipeline's topics has all rf replicas in sync, retrying until ctx
// ends. After a broker restart this tells that it has caught up.
func WaitHealthy(ctx context.Context, adm *kadm.Client, rf int16) error {
	var last error
	for {
		if last = healthyOnce(ctx, adm, rf); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka wait: %w (last: %w)", ctx.Err(), last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func healthyOnce(ctx context.Context, adm *kadm.Client, rf int16) error {
	md, err := adm.Metadata(ctx, TopicEvents, TopicDLQ)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if len(md.Brokers) < int(rf) {
		return fmt.Errorf("%d brokers registered, need %d", len(md.Brokers), rf)
	}
	for _, t := range md.Topics {
		if t.Err != nil {
			return fmt.Errorf("topic %s: %w", t.Topic, t.Err)
		}
		for _, p := range t.Partitions {
			if p.Err != nil || p.Leader < 0 || len(p.ISR) < int(rf) {
				return fmt.Errorf("%s/%d: leader %d, isr %v, err %v", t.Topic, p.Partition, p.Leader, p.ISR, p.Err)
			}
		}
	}
	return nil
}
