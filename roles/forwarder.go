package roles

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"logsys/event"
)

// errForwarderClosed is returned to senders once shutdown has begun; the
// answer tells the client to retry in a second (another instance, or this
// one restarted, takes it).
var errForwarderClosed error = closedError{}

type closedError struct{}

func (closedError) Error() string             { return "gateway is shutting down" }
func (closedError) retryAfter() time.Duration { return time.Second }

// permanentError is a refusal by the producer that retrying cannot fix.
type permanentError struct{ status int }

func (e *permanentError) Error() string {
	return fmt.Sprintf("producer refused the batch: HTTP %d", e.status)
}

// pending is one caller's events waiting to be forwarded, already encoded
// as frames (see FramesType).
type pending struct {
	frames *[]byte // from bodyPool; returned once answered
	n      int     // events in frames
	done   chan error
}

// bodyPool holds frame buffers and request bodies of the forwarder.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func putBody(b *[]byte) {
	if cap(*b) <= 1<<20 { // keep big batches' buffers from pinning memory
		*b = (*b)[:0]
		bodyPool.Put(b)
	}
}

// forwarder coalesces events from concurrent requests into batches and
// posts them to the producer; each caller learns whether its events were
// acknowledged by Kafka. Idle it adds no delay: a worker takes whatever is
// queued when it becomes free. Of the batches in flight at most one is
// partial (below max_batch or max_batch_bytes): a worker with a partial
// batch while another is out keeps gathering what arrives until that one
// is answered, its own batch is full or partialWait has passed. Light load thus goes in one
// growing batch at a time (every POST costs the gateway, the producer
// and Kafka a request), and only full batches travel side by side.
type forwarder struct {
	client   *http.Client
	url      string
	maxBatch int
	maxBytes int64 // frames coalesced into one request at most (one larger request goes alone)
	retries  int
	backoff  time.Duration
	timeout  time.Duration
	br       *breaker
	log      *slog.Logger

	// ctx ends the forwarder's retries, backoffs and posts; start sets it.
	ctx context.Context
	// partial is held by the worker posting a partial batch (capacity 1).
	partial chan struct{}
	mu      sync.RWMutex
	closed  bool
	queue   chan *pending
	wg      sync.WaitGroup
}

// start runs workers until close; ctx ending stops their retries at once
// (what is still queued then fails with ctx's error).
func (f *forwarder) start(ctx context.Context, workers int) {
	f.ctx = ctx
	f.partial = make(chan struct{}, 1)
	for i := 0; i < workers; i++ {
		f.wg.Add(1)
		go f.work()
	}
}

// send forwards evs and waits for the producer's acknowledgement. The
// events are encoded here, on the caller's goroutine.
func (f *forwarder) send(ctx context.Context, evs []event.Event) error {
	buf := bodyPool.Get().(*[]byte)
	b, err := appendFrames((*buf)[:0], evs)
	*buf = b
	if err != nil {
		putBody(buf)
		return err
	}
	p := &pending{frames: buf, n: len(evs), done: make(chan error, 1)}
	f.mu.RLock()
	if f.closed {
		f.mu.RUnlock()
		putBody(buf)
		return errForwarderClosed
	}
	select {
	case f.queue <- p:
	case <-ctx.Done():
		f.mu.RUnlock()
		putBody(buf)
		return ctx.Err()
	}
	f.mu.RUnlock()
	// Once queued, the batch is sent even if this caller goes away, so the
	// answer is awaited without the request context: no accepted event is
	// dropped half-way.
	return <-p.done
}

// close stops accepting, then waits until every queued batch is answered.
func (f *forwarder) close() {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		close(f.queue)
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *forwarder) work() {
	defer f.wg.Done()
	batch := make([]*pending, 0, 64)
	var carry *pending // taken from the queue, left for the next batch: it did not fit
	wait := time.NewTimer(partialWait)
	wait.Stop()
	for {
		p := carry
		carry = nil
		if p == nil {
			var ok bool
			if p, ok = <-f.queue; !ok {
				return
			}
		}
		batch = append(batch[:0], p)
		n, size := p.n, int64(len(*p.frames))
		full := f.isFull(n, size) // no more fits: the batch goes without the partial token
		add := func(q *pending) {
			if f.maxBytes > 0 && size+int64(len(*q.frames)) > f.maxBytes {
				carry, full = q, true
				return
			}
			batch = append(batch, q)
			n, size = n+q.n, size+int64(len(*q.frames))
			full = f.isFull(n, size)
		}
		open := true // the queue is not closed
	drain: // what is queued now
		for !full {
			select {
			case q, ok := <-f.queue:
				if !ok {
					open = false
					break drain
				}
				add(q)
			default:
				break drain
			}
		}
		holding := false
		if !full {
			wait.Reset(partialWait)
		}
	gather: // until the partial token is free, the batch full or partialWait over
		for !full {
			queue := f.queue
			if !open {
				queue = nil
			}
			select {
			case f.partial <- struct{}{}:
				holding = true
				break gather
			case <-wait.C:
				break gather
			case q, ok := <-queue:
				if !ok {
					open = false
					continue
				}
				add(q)
			}
		}
		wait.Stop()
		body := p.frames
		if len(batch) > 1 {
			body = bodyPool.Get().(*[]byte)
			for _, q := range batch {
				*body = append(*body, *q.frames...)
			}
		}
		err := f.deliver(f.ctx, *body, n)
		if holding {
			<-f.partial
		}
		if len(batch) > 1 {
			putBody(body)
		}
		for i, q := range batch {
			putBody(q.frames)
			q.done <- err
			batch[i] = nil
		}
	}
}

// partialWait bounds how long a partial batch waits for the one in
// flight: longer than a POST takes when the producer is well, so that
// light load goes in one batch at a time, and short enough that a stalled
// POST (a producer that does not answer, retries with backoff) does not
// hold up the other callers for its timeout.
const partialWait = 5 * time.Millisecond

// isFull reports whether a batch of n events in size bytes of frames
// takes no more.
func (f *forwarder) isFull(n int, size int64) bool {
	return n >= f.maxBatch || (f.maxBytes > 0 && size >= f.maxBytes)
}

// deliver posts body, the frames of n events, with retries and backoff
// behind the circuit breaker, until ctx ends.
func (f *forwarder) deliver(ctx context.Context, body []byte, n int) error {
	backoff := f.backoff
	var last error
	for attempt := 0; attempt <= f.retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("forward %d events to producer: %w", n, errors.Join(last, ctx.Err()))
			case <-time.After(backoff):
			}
			backoff *= 2
		}
		if err := f.br.allow(); err != nil {
			last = err
			continue
		}
		err := f.post(ctx, body)
		var perm *permanentError
		if errors.As(err, &perm) {
			f.br.done(nil) // the producer answered: it is healthy
			return err
		}
		f.br.done(err)
		if err == nil {
			return nil
		}
		last = err
		f.log.Warn("forward to producer failed", "attempt", attempt+1, "events", n, "err", err)
	}
	return fmt.Errorf("forward %d events to producer: %w", n, last)
}

func (f *forwarder) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", FramesType)
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("post to producer: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests:
		return &permanentError{status: resp.StatusCode}
	default:
		return fmt.Errorf("producer answered HTTP %d", resp.StatusCode)
	}
}
