package aclmatrix

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

// probe is one identity trying one cell; every client it opens is closed
// afterwards.
type probe struct {
	id      string
	seeds   []string
	dial    DialFunc
	scratch string // run-unique name for a scratch topic, group or transactional id
	offset  int64  // the group's committed offset of partition 0, from seeding
	clients []*kgo.Client
}

func (p *probe) client(opts ...kgo.Opt) (*kgo.Client, error) {
	base := []kgo.Opt{
		kgo.SeedBrokers(p.seeds...), kgo.Dialer(p.dial), kgo.ClientID("logsys-acl-matrix"),
		kgo.RetryTimeout(5 * time.Second), kgo.RecordDeliveryTimeout(10 * time.Second),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, err
	}
	p.clients = append(p.clients, cl)
	return cl, nil
}

func (p *probe) admin() (*kadm.Client, error) {
	cl, err := p.client()
	if err != nil {
		return nil, err
	}
	return kadm.NewClient(cl), nil
}

// withAdmin is a probe that needs the identity's admin client.
func withAdmin(f func(context.Context, *probe, *kadm.Client) error) func(context.Context, *probe) error {
	return func(ctx context.Context, p *probe) error {
		adm, err := p.admin()
		if err != nil {
			return err
		}
		return f(ctx, p, adm)
	}
}

func (p *probe) close() {
	for _, cl := range p.clients {
		cl.Close()
	}
}

// errHidden is how a list refuses: it leaves out what the caller may not
// describe instead of answering an error.
var errHidden = fmt.Errorf("%w (left out of the listing)", kerr.GroupAuthorizationFailed)

func produceTo(topic string) func(context.Context, *probe) error {
	return func(ctx context.Context, p *probe) error {
		cl, err := p.client()
		if err != nil {
			return err
		}
		return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(p.scratch), Value: []byte("acl matrix probe")}).FirstErr()
	}
}

func initProducerID(transactional bool) func(context.Context, *probe) error {
	return func(ctx context.Context, p *probe) error {
		cl, err := p.client()
		if err != nil {
			return err
		}
		req := kmsg.NewPtrInitProducerIDRequest()
		if transactional {
			req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(p.scratch), 60000
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	}
}

// topicErr is the topic's metadata error: a client that may not describe
// a topic cannot address its partitions.
func topicErr(ctx context.Context, adm *kadm.Client, topic string) error {
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return err
	}
	td, ok := md.Topics[topic]
	if !ok {
		return fmt.Errorf("topic %s missing from the metadata answer", topic)
	}
	return td.Err
}

func describeTopic(topic string) func(context.Context, *probe) error {
	return func(ctx context.Context, p *probe) error {
		adm, err := p.admin()
		if err != nil {
			return err
		}
		return topicErr(ctx, adm, topic)
	}
}

// fetchFrom reads partition 0 from the start without a group; seeding put
// a record there, so an allowed fetch returns one.
func fetchFrom(topic string) func(context.Context, *probe) error {
	return func(ctx context.Context, p *probe) error {
		cl, err := p.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
		if err != nil {
			return err
		}
		for {
			fs := cl.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("neither a record nor an error: %w", err)
			}
			if errs := fs.Errors(); len(errs) > 0 {
				return errs[0].Err
			}
			if fs.NumRecords() > 0 {
				return nil
			}
		}
	}
}

// joinGroup sends one JoinGroup without a member id: an admitted member
// is told MEMBER_ID_REQUIRED and, never coming back, never joins, so no
// rebalance of a live group is started.
func joinGroup(group func(*probe) string) func(context.Context, *probe) error {
	return func(ctx context.Context, p *probe) error {
		cl, err := p.client()
		if err != nil {
			return err
		}
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.ProtocolType = group(p), "consumer"
		req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 10000, 10000
		meta := kmsg.NewConsumerMemberMetadata()
		meta.Topics = []string{kafkaacl.TopicEvents}
		proto := kmsg.NewJoinGroupRequestProtocol()
		proto.Name, proto.Metadata = "range", meta.AppendTo(nil)
		req.Protocols = append(req.Protocols, proto)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	}
}

// commitOffsets commits the offset the group already has: allowed, it
// changes nothing.
var commitOffsets = withAdmin(func(ctx context.Context, p *probe, adm *kadm.Client) error {
	if err := topicErr(ctx, adm, kafkaacl.TopicEvents); err != nil {
		return err
	}
	var os kadm.Offsets
	os.AddOffset(kafkaacl.TopicEvents, 0, p.offset, -1)
	resp, err := adm.CommitOffsets(ctx, kafkaacl.Group, os)
	if err != nil {
		return err
	}
	return resp.Error()
})

var fetchOffsets = withAdmin(func(ctx context.Context, p *probe, adm *kadm.Client) error {
	resp, err := adm.FetchOffsets(ctx, kafkaacl.Group)
	if err != nil {
		return err
	}
	return resp.Error()
})

var describeGroup = withAdmin(func(ctx context.Context, p *probe, adm *kadm.Client) error {
	ds, err := adm.DescribeGroups(ctx, kafkaacl.Group)
	if err != nil {
		return err
	}
	return ds.Error()
})

var listGroups = withAdmin(func(ctx context.Context, p *probe, adm *kadm.Client) error {
	ls, err := adm.ListGroups(ctx)
	if err != nil {
		return err
	}
	if _, ok := ls[kafkaacl.Group]; !ok {
		return errHidden
	}
	return nil
})

var deleteGroup = withAdmin(func(ctx context.Context, p *probe, adm *kadm.Client) error {
	_, err := adm.DeleteGroup(ctx, kafkaacl.Group)
	return err
})

var createTopic = withAdmin(func(ctx context.Context, p *probe, adm *kadm.Client) error {
	_, err := adm.CreateTopic(ctx, 1, 1, nil, p.scratch)
	return err
})

// deleteTopic names the topic; Kafka may answer without the name when the
// caller may not even describe it, so every answer is checked.
func deleteTopic(ctx context.Context, p *probe) error {
	cl, err := p.client()
	if err != nil {
		return err
	}
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 15000
	req.TopicNames = []string{kafkaacl.TopicEvents}
	rt := kmsg.NewDeleteTopicsRequestTopic()
	rt.Topic = kmsg.StringPtr(kafkaacl.TopicEvents)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if len(resp.Topics) == 0 {
		return errors.New("empty delete topics answer")
	}
	var errs []error
	for _, t := range resp.Topics {
		errs = append(errs, kerr.ErrorForCode(t.ErrorCode))
	}
	return errors.Join(errs...)
}

var addPartitions = withAdmin(func(ctx context.Context, p *probe, adm *kadm.Client) error {
	resp, err := adm.ValidateUpdatePartitions(ctx, 12, kafkaacl.TopicEvents)
	if err != nil {
		return err
	}
	return resp.Error()
})

// deleteRecords asks to delete what precedes offset 0: nothing, if it
// were allowed.
var deleteRecords = withAdmin(func(ctx context.Context, p *probe, adm *kadm.Client) error {
	if err := topicErr(ctx, adm, kafkaacl.TopicEvents); err != nil {
		return err
	}
	var os kadm.Offsets
	os.AddOffset(kafkaacl.TopicEvents, 0, 0, -1)
	resp, err := adm.DeleteRecords(ctx, os)
	if err != nil {
		return err
	}
	return resp.Error()
})

var describeConfigs = withAdmin(func(ctx context.Context, p *probe, adm *kadm.Client) error {
	rcs, err := adm.DescribeTopicConfigs(ctx, kafkaacl.TopicEvents)
	if err != nil {
		return err
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			return rc.Err
		}
	}
	return nil
})

func alterResult(rs kadm.AlterConfigsResponses, err error) error {
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

var alterTopicConfigs = withAdmin(func(ctx context.Context, p *probe, adm *kadm.Client) error {
	return alterResult(adm.ValidateAlterTopicConfigs(ctx,
		[]kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("3600000")}}, kafkaacl.TopicEvents))
})

// alterBrokerConfigs targets the cluster-wide default.
var alterBrokerConfigs = withAdmin(func(ctx context.Context, p *probe, adm *kadm.Client) error {
	return alterResult(adm.ValidateAlterBrokerConfigs(ctx,
		[]kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.retention.ms", Value: kadm.StringPtr("3600000")}}))
})

func describeACLs(ctx context.Context, p *probe) error {
	cl, err := p.client()
	if err != nil {
		return err
	}
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.ErrorCode)
}

func createACL(ctx context.Context, p *probe) error {
	cl, err := p.client()
	if err != nil {
		return err
	}
	c := kmsg.NewCreateACLsRequestCreation()
	c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, kafkaacl.TopicEvents, kmsg.ACLResourcePatternTypeLiteral
	c.Principal, c.Host = kafkaacl.PrincipalOf(p.id), "*"
	c.Operation, c.PermissionType = kmsg.ACLOperationAll, kmsg.ACLPermissionTypeAllow
	req := kmsg.NewPtrCreateACLsRequest()
	req.Creations = append(req.Creations, c)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if len(resp.Results) != 1 {
		return fmt.Errorf("%d create acl results, want 1", len(resp.Results))
	}
	return kerr.ErrorForCode(resp.Results[0].ErrorCode)
}
