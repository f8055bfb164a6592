package roles

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"logsys/kafkaacl"
)

// The embedded broker enforces kafkaacl.Grants, deny by default, like the
// real cluster (deploy/kafka/server.properties, it/admin.go): kfake's ACLs
// are on, every client name and every grant's principal is a SASL user
// that principalListener authenticates on the peer's behalf, and the
// broker's own identity is the super user, reachable only in-process.

// aclOpts are the kfake options that turn authorization on. Grants are
// seeded for a fresh data directory; reconcileACLs makes a persisted one
// match as well.
func aclOpts(clients []string, superUser, secret string) []kfake.Opt {
	opts := []kfake.Opt{kfake.EnableSASL(), kfake.EnableACLs(), kfake.Superuser("PLAIN", superUser, secret)}
	users := append([]string{}, clients...)
	for _, g := range kafkaacl.Grants() {
		users = append(users, g.Principal[len("User:"):])
	}
	slices.Sort(users)
	for _, u := range slices.Compact(users) {
		var acls []kfake.ACL
		for _, g := range kafkaacl.For(kafkaacl.PrincipalOf(u)) {
			acls = append(acls, kfake.ACL{
				Resource: g.Resource, Name: g.Name, Pattern: kmsg.ACLResourcePatternTypeLiteral,
				Operation: g.Op, Allow: true, Host: "*",
			})
		}
		opts = append(opts, kfake.User("PLAIN", u, secret, acls...))
	}
	return opts
}

// credentialsFile is where kfake persists SASL users, passwords included.
// Ours are per process and useless to anyone else, but they are removed
// before start (a stale file would replace them) and after every save.
func removeCredentials(dataDir string) error {
	if dataDir == "" {
		return nil
	}
	err := os.Remove(filepath.Join(dataDir, "sasl.json"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("broker: remove persisted sasl users: %w", err)
	}
	return nil
}

// aclKey identifies one ACL entry.
type aclKey struct {
	principal, host, name string
	rt                    kmsg.ACLResourceType
	pattern               kmsg.ACLResourcePatternType
	op                    kmsg.ACLOperation
	perm                  kmsg.ACLPermissionType
}

// reconcileACLs makes the broker's ACLs exactly kafkaacl.Grants, through
// an in-process connection of the super user: ACLs persisted by an older
// version or another configuration are deleted, missing ones created.
func (b *Broker) reconcileACLs(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(b.cluster.ListenAddrs()...),
		kgo.Dialer(func(ctx context.Context, _, _ string) (net.Conn, error) { return b.ln.dialInternal(ctx) }),
		kgo.WithLogger(kgoLogger{b.log}),
	)
	if err != nil {
		return fmt.Errorf("broker acls: %w", err)
	}
	defer cl.Close()

	want := map[aclKey]bool{}
	for _, g := range kafkaacl.Grants() {
		want[aclKey{g.Principal, "*", g.Name, g.Resource, kmsg.ACLResourcePatternTypeLiteral, g.Op, kmsg.ACLPermissionTypeAllow}] = true
	}
	desc := kmsg.NewPtrDescribeACLsRequest()
	desc.ResourceType, desc.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	desc.Operation, desc.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	dresp, err := desc.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(dresp.ErrorCode)
	}
	if err != nil {
		return fmt.Errorf("broker acls: describe: %w", err)
	}
	del := kmsg.NewPtrDeleteACLsRequest()
	for _, r := range dresp.Resources {
		for _, a := range r.ACLs {
			k := aclKey{a.Principal, a.Host, r.ResourceName, r.ResourceType, r.ResourcePatternType, a.Operation, a.PermissionType}
			if want[k] {
				delete(want, k)
				continue
			}
			f := kmsg.NewDeleteACLsRequestFilter()
			f.ResourceType, f.ResourceName, f.ResourcePatternType = k.rt, kmsg.StringPtr(k.name), k.pattern
			f.Principal, f.Host, f.Operation, f.PermissionType = kmsg.StringPtr(k.principal), kmsg.StringPtr(k.host), k.op, k.perm
			del.Filters = append(del.Filters, f)
		}
	}
	if len(del.Filters) > 0 {
		resp, err := del.RequestWith(ctx, cl)
		if err != nil {
			return fmt.Errorf("broker acls: delete: %w", err)
		}
		for _, r := range resp.Results {
			if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
				return fmt.Errorf("broker acls: delete: %w", err)
			}
		}
	}
	add := kmsg.NewPtrCreateACLsRequest()
	for k := range want {
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName, c.ResourcePatternType = k.rt, k.name, k.pattern
		c.Principal, c.Host, c.Operation, c.PermissionType = k.principal, k.host, k.op, k.perm
		add.Creations = append(add.Creations, c)
	}
	if len(add.Creations) > 0 {
		resp, err := add.RequestWith(ctx, cl)
		if err != nil {
			return fmt.Errorf("broker acls: create: %w", err)
		}
		for _, r := range resp.Results {
			if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
				return fmt.Errorf("broker acls: create: %w", err)
			}
		}
	}
	if len(del.Filters) > 0 || len(add.Creations) > 0 {
		b.log.Info("broker acls reconciled with the pipeline's grants", "deleted", len(del.Filters), "created", len(add.Creations))
	}
	return nil
}
