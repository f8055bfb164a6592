package it

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
)

var pkiReport = regexp.MustCompile(`(\d+) created, (\d+) kept, (\d+) replaced, (\d+) removed`)

// checkPKIReport: compose's pki job, run on the volume seeded with the CI
// PKI, must replace or remove nothing: the CI PKI is what compose's job
// makes, so Kafka and PostgreSQL present certificates of the compose PKI.
func checkPKIReport(out string) error {
	m := pkiReport.FindStringSubmatch(out)
	if m == nil {
		return fmt.Errorf("pki: no report in its output:\n%s", out)
	}
	if m[3] != "0" || m[4] != "0" {
		return fmt.Errorf("pki: compose's pki job changed the PKI the CI services use (%s): .ci/services.sh must create it with compose's pki command\n%s", m[0], out)
	}
	return nil
}

// checkKafkaInit: every topic and ACL that compose's kafka-init script
// creates exists on the CI cluster (it/kafka.sh creates them with
// it.Grants; partitions and replication factor are the cluster's).
func checkKafkaInit(t *testing.T, c Cluster, s composeService) {
	t.Helper()
	if len(s.Command) == 0 {
		t.Fatal("kafka-init has no command")
	}
	script := s.Command[len(s.Command)-1]
	var topics, acls []string
	for line := range strings.SplitSeq(script, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && strings.HasSuffix(f[0], "/kafka-topics.sh"):
			if i := slices.Index(f, "--topic"); i > 0 && i+1 < len(f) {
				topics = append(topics, f[i+1])
			}
		case len(f) > 1 && f[0] == "acl":
			principal, ops, resource := f[1], []string{}, ""
			for i := 2; i < len(f); i++ {
				switch f[i] {
				case "--operation":
					i++
					ops = append(ops, f[i])
				case "--topic", "--group":
					resource = strings.TrimPrefix(f[i], "--") + ":" + f[i+1]
					i++
				case "--cluster":
					resource = "cluster:kafka-cluster"
				}
			}
			for _, op := range ops {
				acls = append(acls, aclKey(principal, resource, op))
			}
		}
	}
	if len(topics) < 2 || len(acls) < 8 {
		t.Fatalf("kafka-init's script: found only topics %v and ACLs %v; the parser is broken", topics, acls)
	}
	adm := kadm.NewClient(client(t, c, Broker))
	ctx := timeout(t, time.Minute)
	listed, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range topics {
		if d, ok := listed[tp]; !ok || d.Err != nil {
			t.Errorf("kafka-init creates topic %s; the CI cluster lacks it", tp)
		}
	}
	all := kadm.NewACLs().AnyResource().Allow().AllowHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny)
	res, err := adm.DescribeACLs(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("describe ACLs: %v", r.Err)
		}
		for _, d := range r.Described {
			have[aclKey(d.Principal, strings.ToLower(d.Type.String())+":"+d.Name, d.Operation.String())] = true
		}
	}
	for _, a := range acls {
		if !have[a] {
			t.Errorf("kafka-init grants %s; the CI cluster does not", a)
		}
	}
}

// aclKey normalises an ACL: operations as kafka-acls.sh (IdempotentWrite)
// or kmsg (IDEMPOTENT_WRITE) spell them.
func aclKey(principal, resource, op string) string {
	return principal + " " + resource + " " + strings.ToLower(strings.ReplaceAll(op, "_", ""))
}

// checkEvents posts n events to the gateway as the dev client of the
// compose PKI, half one by one and half in one batch, and waits until
// PostgreSQL holds each once and GET /api/v1/logs returns them all.
func (h *harness) checkEvents(dsn string, n int) {
	t := h.t
	gw := h.compose.Services["gateway"]
	env := gw.Environment["LOGSYS_GATEWAY_TLS_ENV"]
	cfg, err := RawClientTLS(filepath.Join(h.base, "volumes", "pki"), env, env, "client")
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	base := "https://" + net.JoinHostPort("gateway", gw.containerPort())
	source := "compose-" + runID()
	var ids []string
	var batch []map[string]any
	for i := range n {
		ev := map[string]any{"id": uuid.NewString(), "level": "INFO", "source": source,
			"message": fmt.Sprintf("compose event %d", i), "metadata": map[string]any{"i": i}}
		ids = append(ids, ev["id"].(string))
		if i < n/2 {
			mustPost(t, cl, base+"/api/v1/logs", ev)
		} else {
			batch = append(batch, ev)
		}
	}
	mustPost(t, cl, base+"/api/v1/logs/batch", batch)
	h.step("gateway accepted %d events (%d one by one, one batch of %d) from %s", n, n/2, len(batch), base)

	ctx := timeout(t, time.Minute)
	for {
		counts, err := storedCounts(ctx, dsn, source)
		if err != nil {
			t.Fatal(err)
		}
		stored := 0
		for _, id := range ids {
			if counts[id] > 1 {
				t.Fatalf("event %s stored %d times", id, counts[id])
			}
			stored += counts[id]
		}
		if stored == n && len(counts) == n {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("PostgreSQL holds %d of %d events of %s", stored, n, source)
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.step("PostgreSQL holds each of the %d events once", n)

	resp, err := cl.Get(base + "/api/v1/logs?source=" + source + "&limit=" + strconv.Itoa(2*n))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var envelope struct {
		Status string `json:"status"`
		Data   struct {
			Count  int `json:"count"`
			Events []struct {
				ID       string `json:"id"`
				Identity string `json:"identity"`
			} `json:"events"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&envelope); err != nil || resp.StatusCode != http.StatusOK || envelope.Status != "success" {
		t.Fatalf("GET /api/v1/logs: %s %q %v", resp.Status, envelope.Status, err)
	}
	got := envelope.Data
	wantIdentity := "spiffe://" + TrustDomain + "/" + env + "/client"
	seen := map[string]bool{}
	for _, e := range got.Events {
		if e.Identity != wantIdentity {
			t.Errorf("event %s: identity %q, want %q (stamped by the gateway)", e.ID, e.Identity, wantIdentity)
		}
		seen[e.ID] = true
	}
	for _, id := range ids {
		if !seen[id] {
			t.Errorf("GET /api/v1/logs lacks %s", id)
		}
	}
	if got.Count != n {
		t.Errorf("GET /api/v1/logs: count %d, want %d", got.Count, n)
	}
	h.step("GET /api/v1/logs returns the %d events, each with identity %s", got.Count, wantIdentity)
}

// mustPost posts v as JSON until it is answered 202, retrying for a
// bounded time on transport errors and 5xx (the ids make retries safe).
func mustPost(t *testing.T, cl *http.Client, url string, v any) {
	t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := cl.Post(url, "application/json", bytes.NewReader(body))
		var msg []byte
		if err == nil {
			msg, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				return
			}
			if resp.StatusCode < 500 {
				t.Fatalf("POST %s: %s %s", url, resp.Status, msg)
			}
			err = fmt.Errorf("%s %s", resp.Status, msg)
		}
		if time.Now().After(deadline) {
			t.Fatalf("POST %s: %v", url, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// imageUsers are the users Kafka's and PostgreSQL's images run as, which
// tls-init gives their copies to (apache/kafka: appuser 1000; postgres:
// the postgres user, looked up here as tls-init's `id -u postgres` does).
func imageUsers() (map[string]string, error) {
	pg, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("tls-init gives PostgreSQL's copies to the postgres user: %w", err)
	}
	return map[string]string{"kafka": "1000", "postgres": pg.Uid}, nil
}

// checkTLSInit: after tls-init ran, every file that Kafka's and
// PostgreSQL's configuration (their bind-mounted files and environment)
// reads from a volume tls-init writes exists there, owned by the user the
// image runs as, secrets (keys, passwords) with mode 0600.
func (h *harness) checkTLSInit(string) error {
	users, err := imageUsers()
	if err != nil {
		return err
	}
	var errs []string
	checked := 0
	for _, name := range []string{"kafka", "postgres"} {
		s := h.compose.Services[name]
		var texts []string
		for _, v := range s.Environment {
			texts = append(texts, v)
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				texts = append(texts, readTexts(filepath.Join(h.repo, src))...)
			}
		}
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			if strings.HasPrefix(parts[0], ".") || !strings.HasSuffix(parts[0], "-secrets") && !strings.HasSuffix(parts[0], "-tls") {
				continue
			}
			files := regexp.MustCompile(regexp.QuoteMeta(parts[1]) + `[/:]([A-Za-z0-9_.-]+)`)
			for _, text := range texts {
				for _, m := range files.FindAllStringSubmatch(text, -1) {
					checked++
					p := filepath.Join(h.base, "volumes", parts[0], m[1])
					fi, err := os.Stat(p)
					if err != nil {
						errs = append(errs, fmt.Sprintf("%s reads %s/%s, which tls-init did not write: %v", name, parts[1], m[1], err))
						continue
					}
					st := fi.Sys().(*syscall.Stat_t)
					secret := strings.Contains(m[1], "key") || strings.HasSuffix(m[1], ".pass") || strings.HasSuffix(m[1], ".properties")
					if strconv.Itoa(int(st.Uid)) != users[name] || secret && fi.Mode().Perm() != 0o600 {
						errs = append(errs, fmt.Sprintf("%s/%s: owner %d mode %v, want owner %s (the %s image's user)%s", parts[0], m[1], st.Uid, fi.Mode().Perm(), users[name], name, map[bool]string{true: " and 0600"}[secret]))
					}
				}
			}
		}
	}
	if checked < 6 {
		errs = append(errs, fmt.Sprintf("only %d files of Kafka's and PostgreSQL's configuration checked: the scanner is broken", checked))
	}
	if len(errs) > 0 {
		return fmt.Errorf("tls-init:\n  %s", strings.Join(errs, "\n  "))
	}
	h.step("tls-init wrote the %d files Kafka's and PostgreSQL's configuration read, owned by their images' users", checked)
	return nil
}

// readTexts is the content of a file, or of every file in a directory tree.
func readTexts(path string) []string {
	var out []string
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, err := os.ReadFile(p); err == nil {
				out = append(out, string(b))
			}
		}
		return nil
	})
	return out
}
