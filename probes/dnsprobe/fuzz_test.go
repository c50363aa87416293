package dnsprobe

import (
	"encoding/binary"
	"testing"

	"github.com/miekg/dns"

	"github.com/vigil-monitoring/vigil/probes"
)

// FuzzValidateAnswer feeds arbitrary bytes, as a server's answer, to the
// answer matching and to the decoding and validation of a few checks: no
// panic; a passing run has its DNS info, and an answer that does not decode
// fails as malformed.
func FuzzValidateAnswer(f *testing.F) {
	zone := testZone()
	for _, q := range []dns.Question{
		question("talk.example.com.", dns.TypeA, dns.ClassINET),
		question("example.com.", dns.TypeSOA, dns.ClassINET),
		question("missing.example.com.", dns.TypeA, dns.ClassINET),
	} {
		req := new(dns.Msg)
		req.Id = 0x1234
		req.Question = []dns.Question{q}
		if b, err := zone.reply(req, "udp").Pack(); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte{0x12, 0x34, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0})                            // empty answer
	f.Add([]byte{0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1}) // compression loop
	f.Add([]byte{})

	configs := []*Config{
		{Server: "127.0.0.1", QueryName: "talk.example.com"},
		{Server: "127.0.0.1", QueryName: "example.com", QueryType: "SOA", ValidRcodes: []string{"NOERROR", "NXDOMAIN"},
			ValidateAnswerRRs:     RRValidator{FailIfNotMatchesRegexp: regexps(`SOA`), FailIfAllMatchRegexp: regexps(`.`)},
			ValidateAuthorityRRs:  RRValidator{FailIfMatchesRegexp: regexps(`evil`), FailIfNoneMatchesRegexp: regexps(`NS`)},
			ValidateAdditionalRRs: RRValidator{FailIfNotMatchesRegexp: regexps(`^`)}},
		{Server: "127.0.0.1", QueryName: "talk.example.com", QueryType: "TXT", QueryClass: "CH", EDNS0UDPSize: 1232,
			ValidateAnswerRRs: RRValidator{FailIfNoneMatchesRegexp: regexps(`"ok"`)}},
	}
	probers := make([]*Prober, len(configs))
	for i, cfg := range configs {
		probers[i] = newProber(f, cfg)
	}
	f.Fuzz(func(t *testing.T, answer []byte) {
		for _, p := range probers {
			if len(answer) >= 2 {
				_ = p.answers(answer, binary.BigEndian.Uint16(answer))
			}
			var r probes.Result
			run := p.checkAnswer(&r, answer, "127.0.0.1:53", transportUDP, false)
			if run == nil && r.DNS == nil {
				t.Fatal("passing run without DNS info")
			}
			if run != nil && run.err == nil {
				t.Fatal("failing run without an error")
			}
			if err := new(dns.Msg).Unpack(answer); err != nil && run == nil {
				t.Fatalf("answer that does not decode (%v) passed", err)
			}
		}
	})
}
