package roles

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"logsys/internal/testutil"
	"logsys/kafkaacl"
	"logsys/store"
)

// TestGatewayForwardsMetadataAsSent: the gateway forwards a common event's
// metadata as the client's JSON text (not decoded), without white space.
// Whatever its form (white space and newlines between tokens, duplicate
// keys, escapes, an empty object, null), sent alone, in NDJSON and in a
// JSON array, the store keeps what encoding/json decodes from the input.
func TestGatewayForwardsMetadataAsSent(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	c := p.client("dev", "client")
	metas := []string{
		`{ "b" : [ 1 , 2.50 , -0 , 1E+2 , "x\"\\\/\n\t" , { } ] ,` + "\n\t" + ` "a" : { "c" : null } , "a" : true }`,
		`{ }`,
		`null`,
		`{"d":"<>&` + "\u2028 é 世" + `","e":{"f":{"g":[[],[false]]}}}`,
		`{"n":1e20,"m":5e-7,"k":"v"}`,
		`{"q":"say \"hi there\" \\ and \\\" go" , "r" : "x"}`,
	}
	want := map[string]map[string]any{} // message -> metadata as stored
	var ndjson, array []string
	for i, md := range metas {
		for _, via := range []string{"one", "ndjson", "array"} {
			msg := via + "-" + string(rune('0'+i))
			body := `{"message":"` + msg + `","source":"metatext","metadata":` + md + `}`
			if via == "array" {
				body = strings.ReplaceAll(body, "\n", "\n ") // white space stays white space
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(md), &m); err != nil {
				t.Fatal(err)
			}
			if len(m) == 0 {
				m = nil
			}
			want[msg] = m
			switch via {
			case "one":
				if code, ans := postJSON(t, c, p.url("/api/v1/logs"), "application/json", body); code != http.StatusAccepted {
					t.Fatalf("POST %s: %d %v", body, code, ans)
				}
			case "ndjson":
				ndjson = append(ndjson, strings.ReplaceAll(body, "\n", " "))
			case "array":
				array = append(array, body)
			}
		}
	}
	if code, ans := postJSON(t, c, p.url("/api/v1/logs/batch"), "application/x-ndjson", strings.Join(ndjson, "\n")+"\n"); code != http.StatusAccepted {
		t.Fatalf("POST NDJSON: %d %v", code, ans)
	}
	if code, ans := postJSON(t, c, p.url("/api/v1/logs/batch"), "application/json", "[\n"+strings.Join(array, ",\n")+"\n]"); code != http.StatusAccepted {
		t.Fatalf("POST array: %d %v", code, ans)
	}
	var recs []store.Record
	testutil.Eventually(t, 15*time.Second, "every event to be stored", func() bool {
		var err error
		recs, err = p.store.Query(context.Background(), store.Filter{Source: "metatext", Limit: store.MaxLimit})
		return err == nil && len(recs) == len(want)
	})
	for _, r := range recs {
		got := r.Metadata
		if len(got) == 0 {
			got = nil
		}
		if w, ok := want[r.Message]; !ok || !reflect.DeepEqual(got, w) {
			t.Errorf("%s: stored metadata %#v, want %#v", r.Message, got, w)
		}
	}
	if n := p.kept(kafkaacl.TopicDLQ); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
}
