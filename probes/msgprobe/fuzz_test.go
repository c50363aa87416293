package msgprobe

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/probes"
)

// withCRC appends a valid checksum to body, as a peer forging payloads would.
func withCRC(body string) []byte {
	return fmt.Appendf(nil, "%s.%08x", body, crc32.ChecksumIEEE([]byte(body)))
}

// FuzzDecodePayload feeds arbitrary received payloads to the decoder and to
// a run's tracker: no panic; a payload is ours only if it is exactly what
// encodePayload writes for its sequence number and time; anything else with
// our prefix counts as corrupted, never as a received message.
func FuzzDecodePayload(f *testing.F) {
	prefix := runPrefix(agentTag("fuzz-agent"), "run1")
	good := encodePayload(prefix, 2, 1_700_000_000_000_000_000)
	flipped := bytes.Clone(good)
	flipped[len(prefix)] ^= 1
	for _, seed := range [][]byte{
		good,
		flipped,
		good[:len(good)-3],
		prefix,
		[]byte("vigil1.other-agent.run9.1.5.00000000"),
		withCRC(string(prefix) + "02.5"),                   // leading zero
		withCRC(string(prefix) + "+2.5"),                   // sign
		withCRC(string(prefix) + "-1.5"),                   // negative
		withCRC(string(prefix) + "2.5.7"),                  // a field too many
		withCRC(string(prefix) + "99999999999999999999.5"), // overflows
		withCRC(string(prefix) + "4294967298.5"),           // wraps a 32-bit int to 2
		withCRC(string(prefix) + "3.9223372036854775807"),
		{},
	} {
		f.Add(seed)
	}
	const total = 3
	f.Fuzz(func(t *testing.T, payload []byte) {
		class, seq, nanos := decodePayload(prefix, payload)
		switch class {
		case payloadForeign:
			if bytes.HasPrefix(payload, prefix) {
				t.Fatalf("%q has the run's prefix but is foreign", payload)
			}
		case payloadOurs:
			if want := encodePayload(prefix, seq, nanos); !bytes.Equal(payload, want) {
				t.Fatalf("%q decoded as ours (seq %d, time %d), but that encodes as %q", payload, seq, nanos, want)
			}
		case payloadCorrupted:
			if !bytes.HasPrefix(payload, prefix) {
				t.Fatalf("%q lacks the run's prefix but is corrupted", payload)
			}
		}

		tr := newTracker(prefix, total)
		start := time.Now()
		for s := 1; s <= total; s++ {
			tr.markSending(s, start)
			tr.markAwaited(s)
		}
		tr.observe(payload, start.Add(time.Millisecond))
		var info probes.MessagingInfo
		tr.counts(&info)
		wantReceived, wantCorrupted := 0, 0
		switch {
		case class == payloadOurs && seq >= 1 && seq <= total:
			wantReceived = 1
		case class != payloadForeign:
			wantCorrupted = 1
		}
		if info.Received != wantReceived || info.Corrupted != wantCorrupted || info.Duplicated != 0 {
			t.Fatalf("%q (%v, seq %d): received %d corrupted %d duplicated %d, want received %d corrupted %d",
				payload, class, seq, info.Received, info.Corrupted, info.Duplicated, wantReceived, wantCorrupted)
		}
	})
}
