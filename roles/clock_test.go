package roles

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"logsys/internal/testutil"
	"logsys/store"
)

// TestRolesTakeTimeFromTheirClock runs the pipeline three days ahead of
// the wall clock: the gateway stamps events and reads "since" relative to
// its clock, the consumer stamps received_at with its own, and health
// counts the days left from it.
func TestRolesTakeTimeFromTheirClock(t *testing.T) {
	t.Parallel()
	at := time.Now().Add(72 * time.Hour).Truncate(time.Second).UTC()
	p := startPipelineOpts(t, pipelineOptions{clock: func() time.Time { return at }})
	c := p.client("dev", "client")
	code, body := postJSON(t, c, p.url("/api/v1/logs"), "application/json", `{"message":"stamped","source":"clock"}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST: %d %v", code, body)
	}
	wall := time.Now().UTC().Format(time.RFC3339)
	if code, body := postJSON(t, c, p.url("/api/v1/logs"), "application/json", `{"message":"wall","source":"clock","timestamp":"`+wall+`"}`); code != http.StatusAccepted {
		t.Fatalf("POST: %d %v", code, body)
	}
	var recs []store.Record
	testutil.Eventually(t, 10*time.Second, "both events to be stored", func() bool {
		var err error
		recs, err = p.store.Query(context.Background(), store.Filter{Source: "clock"})
		return err == nil && len(recs) == 2
	})
	for _, r := range recs {
		if !r.ReceivedAt.Equal(at) {
			t.Errorf("%s: received_at %v, want the consumer's clock %v", r.Message, r.ReceivedAt, at)
		}
		if r.Message == "stamped" && !r.Timestamp.Equal(at) {
			t.Errorf("timestamp %v, want the gateway's clock %v", r.Timestamp, at)
		}
	}
	// since=1h is an hour back from the gateway's clock: the event stamped
	// by the wall clock, three days earlier, is not in it.
	resp, err := c.Get(p.url("/api/v1/logs?source=clock&since=1h"))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Data struct {
			Count int `json:"count"`
		} `json:"data"`
	}
	decodeJSON(resp, &out)
	if out.Data.Count != 1 {
		t.Errorf("since=1h found %d events, want only the one stamped by the gateway's clock", out.Data.Count)
	}
	// Health counts the days left from the role's clock.
	v, _ := p.gateway.health("api-gateway", time.Hour, nil)
	for _, cv := range v.Certificates {
		if want := float64(int(cv.NotAfter.Sub(at).Hours()/24*10)) / 10; cv.DaysLeft != want {
			t.Errorf("%s: %v days left, want %v (from the role's clock)", cv.Kind, cv.DaysLeft, want)
		}
	}
	resp, err = p.client("dev", "prometheus").Get("https://" + p.consumer.Addr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var h healthView
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(h.Certificates) == 0 || h.Certificates[0].DaysLeft > float64(int(h.Certificates[0].NotAfter.Sub(at).Hours()/24*10))/10 {
		t.Errorf("consumer health %+v does not count from its clock %v", h, at)
	}
}
