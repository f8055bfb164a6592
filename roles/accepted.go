package roles

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"logsys/event"
)

// The success answers of the event routes, written without reflection:
// byte for byte what writeOK writes for them (TestAcceptedAnswers).

// answerPool holds the buffers the answers are built in.
var answerPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// writeAcceptedOne answers an accepted single event:
// writeOK(w, 202, map[string]string{"id": id}).
func writeAcceptedOne(w http.ResponseWriter, id string) {
	buf := answerPool.Get().(*[]byte)
	b := append((*buf)[:0], `{"status":"success","data":{"id":`...)
	b = appendJSONString(b, id)
	*buf = append(b, "}}\n"...)
	writeRaw(w, http.StatusAccepted, buf)
}

// writeAcceptedBatch answers an accepted batch: writeOK(w, 202,
// map[string]any{"accepted": len(evs), "ids": the events' ids}).
func writeAcceptedBatch(w http.ResponseWriter, evs []event.Event) {
	buf := answerPool.Get().(*[]byte)
	b := append((*buf)[:0], `{"status":"success","data":{"accepted":`...)
	b = strconv.AppendInt(b, int64(len(evs)), 10)
	b = append(b, `,"ids":[`...)
	for i := range evs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, evs[i].ID)
	}
	*buf = append(b, "]}}\n"...)
	writeRaw(w, http.StatusAccepted, buf)
}

// writeAcceptedCount answers the producer's accepted batch:
// writeOK(w, 202, map[string]int{"accepted": n}).
func writeAcceptedCount(w http.ResponseWriter, n int) {
	buf := answerPool.Get().(*[]byte)
	b := append((*buf)[:0], `{"status":"success","data":{"accepted":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	*buf = append(b, "}}\n"...)
	writeRaw(w, http.StatusAccepted, buf)
}

// writeRaw writes the JSON body in buf with status and hands buf back.
func writeRaw(w http.ResponseWriter, status int, buf *[]byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(*buf)
	if cap(*buf) <= 1<<20 {
		answerPool.Put(buf)
	}
}

// appendJSONString appends s as encoding/json writes it (HTML escaped);
// the common string, printable ASCII with nothing to escape (every id the
// gateway generates, and most that clients send), directly after one
// table look-up per byte.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !jsonPlain[s[i]] {
			js, _ := json.Marshal(s) // a string always encodes
			return append(b, js...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// jsonPlain marks the bytes encoding/json writes as they are in a string
// of ASCII: printable, not '"', '\\', '<', '>' or '&'.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
