package roles

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"logsys/event"
)

// TestAcceptedAnswers checks that the success answers written without
// reflection are byte for byte writeOK's, for ids that need escaping too.
func TestAcceptedAnswers(t *testing.T) {
	ids := []string{"", "0b9a3f5e-6a1f-4c1e-9d7a-2f1c3b4d5e6f", "01HZX3Q0W9K6J8M2N4P5R7S9TB", `a"b\c`, "<&>", "caf\u00e9",
		"line\u2028sep", "\x7f", "bad\xffutf8", "tab\tnl\n"}
	same := func(name string, got, want *httptest.ResponseRecorder) {
		t.Helper()
		if got.Code != want.Code || got.Body.String() != want.Body.String() || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
			t.Errorf("%s: got %d %q %q, want %d %q %q", name, got.Code, got.Header().Get("Content-Type"), got.Body,
				want.Code, want.Header().Get("Content-Type"), want.Body)
		}
	}
	for _, id := range ids {
		got, want := httptest.NewRecorder(), httptest.NewRecorder()
		writeAcceptedOne(got, id)
		writeOK(want, http.StatusAccepted, map[string]string{"id": id})
		same("one "+id, got, want)
	}
	for n := range len(ids) + 1 {
		evs := make([]event.Event, n)
		all := make([]string, n)
		for i := range evs {
			evs[i].ID, all[i] = ids[i], ids[i]
		}
		got, want := httptest.NewRecorder(), httptest.NewRecorder()
		writeAcceptedBatch(got, evs)
		writeOK(want, http.StatusAccepted, map[string]any{"accepted": len(all), "ids": all})
		same("batch", got, want)
		got, want = httptest.NewRecorder(), httptest.NewRecorder()
		writeAcceptedCount(got, n*1000)
		writeOK(want, http.StatusAccepted, map[string]int{"accepted": n * 1000})
		same("count", got, want)
	}
}
