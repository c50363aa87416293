package msgprobe

import (
	"strings"
	"testing"
)

func TestPayloadRoundTrip(t *testing.T) {
	tests := []struct {
		agent string
		seq   int
		nanos int64
	}{
		{"kr-central-1/host-a", 1, 1764000000123456789},
		{"", 1000, 0},
		{strings.Repeat("a very long agent id with spaces, quotes \" and \\ ", 10), 7, -1},
	}
	for _, tc := range tests {
		prefix := runPrefix(agentTag(tc.agent), newRunID())
		p := encodePayload(prefix, tc.seq, tc.nanos)
		if len(p) > 200 {
			t.Errorf("payload is %d bytes, want <= 200: %s", len(p), p)
		}
		for _, c := range p {
			if c <= ' ' || c > '~' || c == '"' || c == '\'' || c == '\\' {
				t.Errorf("payload %q has forbidden byte %q", p, c)
			}
		}
		class, seq, nanos := decodePayload(prefix, p)
		if class != payloadOurs || seq != tc.seq || nanos != tc.nanos {
			t.Errorf("decode(%s) = %v, %d, %d; want ours, %d, %d", p, class, seq, nanos, tc.seq, tc.nanos)
		}
	}
}

func TestDecodePayloadClasses(t *testing.T) {
	prefix := runPrefix(agentTag("agent-a"), "run1")
	good := string(encodePayload(prefix, 2, 99))
	otherRun := string(encodePayload(runPrefix(agentTag("agent-a"), "run0"), 2, 99))
	otherAgent := string(encodePayload(runPrefix(agentTag("agent-b"), "run1"), 2, 99))
	flipped := []byte(good)
	flipped[len(prefix)] = '3' // seq 2 -> 3 under the old checksum
	tests := []struct {
		name    string
		payload string
		want    payloadClass
	}{
		{"intact", good, payloadOurs},
		{"other run", otherRun, payloadForeign},
		{"other agent", otherAgent, payloadForeign},
		{"not ours at all", "hello world", payloadForeign},
		{"empty", "", payloadForeign},
		{"bit flip", string(flipped), payloadCorrupted},
		{"truncated", good[:len(good)-3], payloadCorrupted},
		{"prefix only", string(prefix), payloadCorrupted},
		{"extra field", string(prefix) + "1.2.3.00000000", payloadCorrupted},
		{"bad hex", good[:len(good)-8] + "zzzzzzzz", payloadCorrupted},
	}
	for _, tc := range tests {
		if got, _, _ := decodePayload(prefix, []byte(tc.payload)); got != tc.want {
			t.Errorf("%s: class = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestClientID(t *testing.T) {
	a := clientID("kr-central-1/host-a", "talk/send/mqtt", false)
	if a != clientID("kr-central-1/host-a", "talk/send/mqtt", false) {
		t.Error("persistent client id is not stable")
	}
	for _, other := range []string{
		clientID("kr-central-1/host-b", "talk/send/mqtt", false),
		clientID("kr-central-1/host-a", "talk/recv/mqtt", false),
		clientID("kr-central-1/host-a", "talk/send/mqtt", true),
	} {
		if other == a {
			t.Errorf("client ids collide: %s", a)
		}
	}
	u1, u2 := clientID("x", "y", true), clientID("x", "y", true)
	if u1 == u2 {
		t.Errorf("unique client ids collide: %s", u1)
	}
	if long := clientID(strings.Repeat("z", 500), "c", true); len(long) > 64 {
		t.Errorf("client id is %d bytes, want <= 64", len(long))
	}
}
