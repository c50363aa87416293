package globalrole

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestRejectionLogIsRateLimited: one line per reason a minute, naming the
// subject and stream sequence, and how many were not logged since.
func TestRejectionLogIsRateLimited(t *testing.T) {
	var buf bytes.Buffer
	l := rejectLog{log: slog.New(slog.NewTextHandler(&buf, nil))}
	m := func(seq uint64) message { return message{subject: "vigil.a.a-0._agent.heartbeat", seq: seq} }
	l.note("malformed", m(1), errString("bad"), t0)
	l.note("malformed", m(2), errString("bad"), t0.Add(time.Second))
	l.note("malformed", m(3), errString("bad"), t0.Add(59*time.Second))
	l.note("version", m(4), errString("v2"), t0.Add(59*time.Second))
	l.note("malformed", m(5), errString("bad"), t0.Add(61*time.Second))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		"reason=malformed subject=vigil.a.a-0._agent.heartbeat stream_seq=1 err=bad not_logged_since_last=0",
		"reason=version subject=vigil.a.a-0._agent.heartbeat stream_seq=4 err=v2 not_logged_since_last=0",
		"reason=malformed subject=vigil.a.a-0._agent.heartbeat stream_seq=5 err=bad not_logged_since_last=2",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d: %s\nwant it to contain %s", i, lines[i], w)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }
