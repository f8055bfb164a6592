package roles

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
)

// readBody reads at most limit bytes of a body of one of types into a
// buffer from bodyPool, sized from Content-Length when it is known (no
// regrowing and copying of large bodies). The caller hands the buffer
// back with putBody once nothing points into it any more.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, types ...string) (body *[]byte, ctype string, err error) {
	ct := r.Header.Get("Content-Type")
	if !slices.Contains(types, ct) { // the exact type needs no parsing
		ct, _, err = mime.ParseMediaType(ct)
		if err != nil || !slices.Contains(types, ct) {
			return nil, "", &apiError{status: http.StatusUnsupportedMediaType, reason: fmt.Sprintf("Content-Type must be one of %v", types)}
		}
	}
	buf := bodyPool.Get().(*[]byte)
	*buf, err = readAll(http.MaxBytesReader(w, r.Body, limit), (*buf)[:0], min(r.ContentLength, limit))
	if err != nil {
		putBody(buf)
		var big *http.MaxBytesError
		if errors.As(err, &big) {
			return nil, "", big
		}
		return nil, "", badRequest("could not read the request body", err)
	}
	return buf, ct, nil
}

// readAll is io.ReadAll into b, which it first grows to hold size bytes
// (a negative size: unknown) and the read that sees the end.
func readAll(r io.Reader, b []byte, size int64) ([]byte, error) {
	if size > 0 {
		b = slices.Grow(b, int(size)+1)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
	}
}
