package msgprobe

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Payload layout, printable ASCII without spaces, quotes or backslashes:
//
//	vigil1.<agent>.<run>.<seq>.<sendnanos>.<crc32hex>
//
// <agent> is the agent id reduced to [A-Za-z0-9_-] (at most 32 bytes) plus a
// hash of the full id, so that it fits and still tells agents apart; <run> is
// random per run; the CRC-32 (IEEE) covers everything before its dot.
const payloadVersion = "vigil1"

// maxTagLen bounds the readable part of agent tags and client ids, keeping every
// payload well under the 200 bytes transports may rely on.
const maxTagLen = 32

// agentTag is the agent id as it appears in payloads.
func agentTag(agentID string) string {
	if agentID == "" {
		agentID = "agent"
	}
	return sanitizeID(agentID, maxTagLen) + "-" + shortHash(agentID)
}

// sanitizeID keeps [A-Za-z0-9_-] of s, replaces the rest by '-', and cuts it to
// max bytes.
func sanitizeID(s string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			b.WriteByte(c)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

func shortHash(s string) string {
	h := fnv.New32a()
	h.Write([]byte(s))
	return fmt.Sprintf("%08x", h.Sum32())
}

// newRunID returns a random run id; it tells this run's messages from those of
// earlier runs and of other checks of the same agent on the same topic.
func newRunID() string {
	return strconv.FormatUint(rand.Uint64()>>16, 36)
}

// clientID names a connection at the broker: unique per agent and check, so two
// agents never kick each other off. With unique set (non-persistent runs with a
// clean session) it adds a random suffix so a lingering session of an earlier
// run never collides with the new one. Transports use it for MQTT client ids,
// NATS connection names, AMQP connection names and Redis client names.
func clientID(agentID, checkID string, unique bool) string {
	id := "vigil-" + sanitizeID(agentID, maxTagLen) + "-" + shortHash(agentID+"\x00"+checkID)
	if unique {
		id += "-" + strconv.FormatUint(rand.Uint64()>>40, 36)
	}
	return id
}

// runPrefix is the start of every payload of one run: "vigil1.<agent>.<run>.".
func runPrefix(agentTag, runID string) []byte {
	return []byte(payloadVersion + "." + agentTag + "." + runID + ".")
}

// encodePayload builds the payload of message seq sent at sendNanos.
func encodePayload(prefix []byte, seq int, sendNanos int64) []byte {
	b := make([]byte, 0, len(prefix)+48)
	b = append(b, prefix...)
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, sendNanos, 10)
	sum := crc32.ChecksumIEEE(b)
	b = append(b, '.')
	const hexDigits = "0123456789abcdef"
	for shift := 28; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[(sum>>uint(shift))&0xf])
	}
	return b
}

// payloadClass says what a received payload is to this run.
type payloadClass int

const (
	payloadForeign   payloadClass = iota // another agent's or run's: ignored
	payloadOurs                          // ours and intact
	payloadCorrupted                     // claims our prefix but fails to parse or check
)

// decodePayload classifies payload against a run's prefix and returns the
// sequence number and send time of an intact one of ours.
func decodePayload(prefix, payload []byte) (class payloadClass, seq int, sendNanos int64) {
	if !bytes.HasPrefix(payload, prefix) {
		return payloadForeign, 0, 0
	}
	dot := bytes.LastIndexByte(payload, '.')
	if dot < len(prefix) || len(payload)-dot-1 != 8 {
		return payloadCorrupted, 0, 0
	}
	want, ok := parseLowerHex32(payload[dot+1:])
	if !ok || want != crc32.ChecksumIEEE(payload[:dot]) {
		return payloadCorrupted, 0, 0
	}
	seqField, nanosField, ok := bytes.Cut(payload[len(prefix):dot], []byte{'.'})
	if !ok {
		return payloadCorrupted, 0, 0
	}
	s, ok1 := parseDecimal(seqField, false)
	n, ok2 := parseDecimal(nanosField, true)
	if !ok1 || !ok2 || s > math.MaxInt32 { // fits an int on every platform
		return payloadCorrupted, 0, 0
	}
	return payloadOurs, int(s), n
}

// parseLowerHex32 parses the 8 lower-case hex digits encodePayload writes for
// the checksum; upper case is not ours.
func parseLowerHex32(b []byte) (uint32, bool) {
	var n uint32
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | uint32(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | uint32(c-'a'+10)
		default:
			return 0, false
		}
	}
	return n, len(b) == 8
}

// parseDecimal parses b as encodePayload writes a number (strconv.AppendInt:
// no plus sign, no leading zero, a minus only where signed). Anything else is
// not a payload of ours, even with a matching CRC.
func parseDecimal(b []byte, signed bool) (int64, bool) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	var canonical [20]byte
	if err != nil || (n < 0 && !signed) || !bytes.Equal(strconv.AppendInt(canonical[:0], n, 10), b) {
		return 0, false
	}
	return n, true
}
