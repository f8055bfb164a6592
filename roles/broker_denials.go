package roles

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"logsys/kafkaacl"
)

// denials makes the embedded broker's authorization refusals visible.
// kfake has no hook for them, so principalConn hands it every response
// and denials looks for Kafka's four authorization error codes in it:
// each refused (principal, request, resource) is logged at warn (at most
// every denialLogEvery per kind, with a count of the ones in between) and
// counted in logsys_broker_authorization_denied_total.
type denials struct {
	log     *slog.Logger
	counter *prometheus.CounterVec
	// topics names the seeded topics by id (produce and fetch name topics
	// by id only). Written before the first connection, read-only after.
	topics map[[16]byte]string

	mu   sync.Mutex
	last map[denialKey]*denialLog
}

type denialKey struct{ principal, request, resourceType, resource string }

type denialLog struct {
	at         time.Time
	suppressed int
}

const (
	denialLogEvery = 30 * time.Second
	maxDenialKeys  = 1024
)

// authCodes are Kafka's authorization errors, by the resource they name.
var authCodes = map[int16]string{
	kerr.TopicAuthorizationFailed.Code:           "topic",
	kerr.GroupAuthorizationFailed.Code:           "group",
	kerr.ClusterAuthorizationFailed.Code:         "cluster",
	kerr.TransactionalIDAuthorizationFailed.Code: "transactional_id",
}

func newDenials(log *slog.Logger) *denials {
	return &denials{
		log: log,
		counter: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logsys_broker_authorization_denied_total",
			Help: "Requests the embedded broker refused for authorization, by principal, request and resource type.",
		}, []string{"principal", "request", "resource_type"}),
		topics: map[[16]byte]string{},
		last:   map[denialKey]*denialLog{},
	}
}

// mayHoldAuthError is a cheap pre-check: error codes are fixed-width
// big-endian int16 in every version, so a response without any of the
// four byte pairs refuses nothing.
func mayHoldAuthError(b []byte) bool {
	for {
		i := bytes.IndexByte(b, 0)
		if i < 0 || i+1 >= len(b) {
			return false
		}
		switch b[i+1] {
		case 29, 30, 31, 53:
			return true
		}
		b = b[i+1:]
	}
}

// inspect records every authorization refusal in one response body (the
// bytes after the correlation id).
func (d *denials) inspect(user string, pr pendingReq, body []byte) {
	if !mayHoldAuthError(body) {
		return
	}
	resp := kmsg.ResponseForKey(pr.key)
	if resp == nil {
		return
	}
	resp.SetVersion(pr.version)
	if resp.IsFlexible() && pr.key != int16(kmsg.ApiVersions) {
		r := kbin.Reader{Src: body}
		kmsg.SkipTags(&r)
		body = r.Src
	}
	if err := resp.ReadFrom(body); err != nil {
		return
	}
	type refused struct{ rt, name string }
	seen := map[refused]int16{}
	d.walk(reflect.ValueOf(resp), requestResource(pr), func(name string, code int16) {
		rt := authCodes[code]
		if name == "" && rt == "cluster" {
			name = kafkaacl.ClusterName
		}
		seen[refused{rt, name}] = code
	})
	principal := kafkaacl.PrincipalOf(user)
	request := kmsg.NameForKey(pr.key)
	for r, code := range seen {
		d.counter.WithLabelValues(principal, request, r.rt).Inc()
		d.logDenial(denialKey{principal, request, r.rt, r.name}, code)
	}
}

func (d *denials) logDenial(k denialKey, code int16) {
	now := time.Now()
	d.mu.Lock()
	e := d.last[k]
	if e != nil && now.Sub(e.at) < denialLogEvery {
		e.suppressed++
		d.mu.Unlock()
		return
	}
	suppressed := 0
	if e != nil {
		suppressed = e.suppressed
	} else if len(d.last) >= maxDenialKeys {
		clear(d.last)
	}
	d.last[k] = &denialLog{at: now}
	d.mu.Unlock()
	d.log.Warn("broker refused a request for authorization",
		"principal", k.principal, "request", k.request, "resource_type", k.resourceType,
		"resource", k.resource, "error", errName(code), "also_refused_since_last_log", suppressed)
}

func errName(code int16) string {
	if ke, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		return ke.Message
	}
	return fmt.Sprint(code)
}

// walk calls found for every authorization error code in v, with the name
// of the innermost enclosing resource (topic, group, ...).
func (d *denials) walk(v reflect.Value, name string, found func(string, int16)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			d.walk(v.Elem(), name, found)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := range v.Len() {
			d.walk(v.Index(i), name, found)
		}
	case reflect.Struct:
		if n := d.resourceName(v); n != "" {
			name = n
		}
		if f := v.FieldByName("ErrorCode"); f.IsValid() && f.Kind() == reflect.Int16 {
			if _, ok := authCodes[int16(f.Int())]; ok {
				found(name, int16(f.Int()))
			}
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				d.walk(v.Field(i), name, found)
			}
		}
	}
}

// resourceNameFields are the fields that name a resource in requests and
// responses.
var resourceNameFields = []string{"Topic", "Group", "GroupID", "TransactionalID", "ResourceName", "Key", "Name"}

func (d *denials) resourceName(v reflect.Value) string {
	for _, f := range resourceNameFields {
		if s := stringField(v.FieldByName(f)); s != "" {
			return s
		}
	}
	if f := v.FieldByName("TopicID"); f.IsValid() && f.Type() == reflect.TypeFor[[16]byte]() {
		id := f.Interface().([16]byte)
		if id == ([16]byte{}) {
			return ""
		}
		if t, ok := d.topics[id]; ok {
			return t
		}
		return "id:" + hex.EncodeToString(id[:])
	}
	return ""
}

func stringField(f reflect.Value) string {
	if !f.IsValid() {
		return ""
	}
	if f.Kind() == reflect.Pointer && !f.IsNil() {
		f = f.Elem()
	}
	if f.Kind() == reflect.String {
		return f.String()
	}
	return ""
}

// requestResource names the resource of a request that its response does
// not repeat (JoinGroup's group, for one).
func requestResource(pr pendingReq) string {
	if pr.body == nil {
		return ""
	}
	req := kmsg.RequestForKey(pr.key)
	if req == nil {
		return ""
	}
	req.SetVersion(pr.version)
	r := kbin.Reader{Src: pr.body}
	r.Int16() // key
	r.Int16() // version
	r.Int32() // correlation id
	r.NullableString()
	if req.IsFlexible() {
		kmsg.SkipTags(&r)
	}
	if err := r.Complete(); err != nil || req.ReadFrom(r.Src) != nil {
		return ""
	}
	v := reflect.ValueOf(req).Elem()
	for _, f := range []string{"Group", "GroupID", "TransactionalID"} {
		if s := stringField(v.FieldByName(f)); s != "" {
			return s
		}
	}
	return ""
}
