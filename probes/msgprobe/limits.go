package msgprobe

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// Every read of data the target controls is bounded by max_message_bytes:
// a transport either sets its client library's own limit (coder/websocket's
// read limit, franz-go's broker read bytes), bounds the reader itself (the
// http transport's bodies and events), or, where the library buffers what the
// server sends with no limit of its own (go-imap's atoms and literals, an
// SMTP reply's lines), reads through a cappedConn.

// messageTooBigError is a read stopped at max_message_bytes.
type messageTooBigError struct {
	what  string // "websocket message", "response body", ...
	limit int64
	err   error // the client's own error, if any
}

func (e *messageTooBigError) Error() string {
	return fmt.Sprintf("%s exceeds max_message_bytes (%d)", e.what, e.limit)
}

func (e *messageTooBigError) Unwrap() error { return e.err }

// errReadCap is what a cappedConn's reads return once its budget is spent.
var errReadCap = errors.New("read budget of max_message_bytes spent")

// cappedConn is a connection whose reads fail once more than limit bytes
// came since the last refill; the transport refills it before each command
// (or poll), so limit bounds what one command's answer may take.
type cappedConn struct {
	net.Conn
	limit int64
	left  atomic.Int64 // client libraries read on goroutines of their own
}

func newCappedConn(conn net.Conn, limit int64) *cappedConn {
	c := &cappedConn{Conn: conn, limit: limit}
	c.refill()
	return c
}

func (c *cappedConn) Read(p []byte) (int, error) {
	left := c.left.Load()
	if left <= 0 {
		return 0, errReadCap
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := c.Conn.Read(p)
	c.left.Add(-int64(n))
	return n, err
}

// refill gives the next command a whole budget.
func (c *cappedConn) refill() { c.left.Store(c.limit) }

// spent reports whether the budget ran out: an error after it is the cap's.
func (c *cappedConn) spent() bool { return c.left.Load() <= 0 }

// capError returns err, or the cap's error naming what when c's budget is
// spent, so that the run says which limit stopped it.
func (c *cappedConn) capError(what string, err error) error {
	if err == nil || c == nil || !c.spent() {
		return err
	}
	return &messageTooBigError{what: what, limit: c.limit, err: err}
}

// receiveFailer is implemented by transports whose receive loop can stop for
// good on what the target sent (a message over max_message_bytes, a
// connection the peer dropped). The run then ends at once with that error
// instead of waiting out its timeout for messages that can no longer come.
type receiveFailer interface {
	// receiveFailed is closed once the receive loop stopped on an error.
	receiveFailed() <-chan struct{}
	// receiveErr is that error, nil before.
	receiveErr() error
}

// receiveFailure implements receiveFailer for a transport that embeds it.
type receiveFailure struct {
	mu     sync.Mutex
	failed chan struct{} // made on first use
	err    error
}

func (f *receiveFailure) channel() chan struct{} {
	if f.failed == nil {
		f.failed = make(chan struct{})
	}
	return f.failed
}

// fail records the receive loop's error; the first one counts.
func (f *receiveFailure) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
		close(f.channel())
	}
}

func (f *receiveFailure) receiveFailed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.channel()
}

func (f *receiveFailure) receiveErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
