package export

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/probes"
)

// The values only runs of one kind have. Each holds the value of the last run
// that had it (a run that stopped before the step that learns a value leaves
// that value as it was), and a has flag where a value may never come.

type httpValues struct {
	status, version, length, redi atomicFloat
	tls                           tlsValues
}

type dnsValues struct {
	answer, authority, additional atomicFloat
	serial                        atomicFloat
	hasSerial                     atomic.Bool
}

type messagingValues struct {
	counts [6]atomic.Uint64 // sent, received, lost, duplicated, reordered, corrupted
	rtt    histogram
}

// tlsValues are a handshake's: the tls kind's, and http, tcp and grpc checks'
// inside their own values.
type tlsValues struct {
	cert            atomicFloat
	hasCert         atomic.Bool
	version, cipher atomic.Pointer[infoLabel] // nil until a handshake
}

type tcpValues struct {
	exchanges    atomicFloat
	hasExchanges atomic.Bool
	tls          tlsValues
}

type grpcValues struct {
	code    atomicFloat
	serving atomic.Int32 // index in servingStatuses, -1 when there was no answer
	hasCall atomic.Bool
	tls     tlsValues
}

type icmpValues struct {
	ttl    atomicFloat
	hasTTL atomic.Bool
}

type sshValues struct {
	authenticated atomicFloat
	hasAuth       atomic.Bool
}

// journeyValues are a journey's steps, in the order runs first had them.
// A step keeps the values of the last run that ran it: a step skipped after
// an earlier one failed leaves its series as they were.
type journeyValues struct {
	mu    sync.Mutex
	steps []journeyStep
}

type journeyStep struct {
	*infoLabel // step="name"
	duration   float64
	up         float64
}

// newKindValues returns the values a check of kind keeps, or nil for a kind
// with none.
func newKindValues(kind string) any {
	switch kind {
	case "http":
		return &httpValues{}
	case "dns":
		return &dnsValues{}
	case "messaging":
		v := &messagingValues{}
		v.rtt.init(roundtripBuckets)
		return v
	case "tcp":
		return &tcpValues{}
	case "tls":
		return &tlsValues{}
	case "grpc":
		v := &grpcValues{}
		v.serving.Store(-1)
		return v
	case "icmp":
		return &icmpValues{}
	case "ssh":
		return &sshValues{}
	case "journey":
		return &journeyValues{}
	}
	return nil
}

func (c *CheckMetrics) httpv() *httpValues     { v, _ := c.values.(*httpValues); return v }
func (c *CheckMetrics) dnsv() *dnsValues       { v, _ := c.values.(*dnsValues); return v }
func (c *CheckMetrics) msgv() *messagingValues { v, _ := c.values.(*messagingValues); return v }
func (c *CheckMetrics) tcpv() *tcpValues       { v, _ := c.values.(*tcpValues); return v }
func (c *CheckMetrics) grpcv() *grpcValues     { v, _ := c.values.(*grpcValues); return v }
func (c *CheckMetrics) icmpv() *icmpValues     { v, _ := c.values.(*icmpValues); return v }
func (c *CheckMetrics) sshv() *sshValues       { v, _ := c.values.(*sshValues); return v }
func (c *CheckMetrics) journeyv() *journeyValues {
	v, _ := c.values.(*journeyValues)
	return v
}

// tlsv is the check's TLS values when its kind can speak TLS, else nil.
func (c *CheckMetrics) tlsv() *tlsValues {
	switch v := c.values.(type) {
	case *httpValues:
		return &v.tls
	case *tcpValues:
		return &v.tls
	case *tlsValues:
		return v
	case *grpcValues:
		return &v.tls
	}
	return nil
}

// observeKind records r's kind-specific values: those of the check's kind
// only, so a result of another kind (a replaced check) records nothing.
func (c *CheckMetrics) observeKind(r *probes.Result) {
	switch v := c.values.(type) {
	case *httpValues:
		if h := r.HTTP; h != nil {
			v.status.Set(float64(h.StatusCode))
			v.version.Set(httpVersionNumber(h.Version))
			v.length.Set(float64(h.ContentLength))
			v.redi.Set(float64(h.Redirects))
			v.tls.setCert(h.CertExpiry)
		}
		v.tls.observe(r.TLS)
	case *dnsValues:
		if d := r.DNS; d != nil {
			v.answer.Set(float64(d.Answer))
			v.authority.Set(float64(d.Authority))
			v.additional.Set(float64(d.Additional))
			if d.HasSOA {
				v.serial.Set(float64(d.SOASerial))
				v.hasSerial.Store(true)
			}
		}
	case *messagingValues:
		if mi := r.Messaging; mi != nil {
			for i, n := range [6]int{mi.Sent, mi.Received, mi.Lost, mi.Duplicated, mi.Reordered, mi.Corrupted} {
				v.counts[i].Add(uint64(n))
			}
			for _, rt := range mi.RoundTrips {
				v.rtt.Observe(rt.Seconds())
			}
		}
	case *tcpValues:
		if t := r.TCP; t != nil {
			v.exchanges.Set(float64(t.Exchanges))
			v.hasExchanges.Store(true)
		}
		v.tls.observe(r.TLS)
	case *tlsValues:
		v.observe(r.TLS)
	case *grpcValues:
		v.observe(r.GRPC)
		v.tls.observe(r.TLS)
	case *icmpValues:
		if i := r.ICMP; i != nil && i.ReplyTTL >= 0 {
			v.ttl.Set(float64(i.ReplyTTL))
			v.hasTTL.Store(true)
		}
	case *journeyValues:
		v.observe(r.Journey)
	case *sshValues:
		// The auth phase is there when a user is configured and the run got
		// as far as logging in: then not being in is a 0.
		if s := r.SSH; s != nil {
			if _, tried := r.Phase("auth"); tried || s.Authenticated {
				v.authenticated.Set(b2f(s.Authenticated))
				v.hasAuth.Store(true)
			}
		}
	}
}

// observe records the steps a journey run ran; nil changes nothing.
func (v *journeyValues) observe(j *probes.JourneyInfo) {
	if j == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, s := range j.Steps {
		if s.Skipped {
			continue
		}
		i := slices.IndexFunc(v.steps, func(st journeyStep) bool { return st.value == s.Name })
		if i < 0 {
			v.steps = append(v.steps, journeyStep{infoLabel: journeySteps.get(s.Name)})
			i = len(v.steps) - 1
		}
		v.steps[i].duration, v.steps[i].up = s.Duration.Seconds(), b2f(s.Success)
	}
}

// journeyFamily writes one value of every step a journey check has run.
func journeyFamily(name, help string, value func(s *journeyStep) float64) checkFamily {
	return checkFamily{expo.Family{Name: name, Help: help, Type: expo.Gauge}, func(w *expo.Writer, c *CheckMetrics) {
		v := c.journeyv()
		if v == nil {
			return
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		for i := range v.steps {
			w.SampleWith(&c.labels, &v.steps[i].pair, value(&v.steps[i]))
		}
	}}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// setCert records a chain's earliest expiry; zero (no TLS) changes nothing.
func (v *tlsValues) setCert(expiry time.Time) {
	if expiry.IsZero() {
		return
	}
	v.cert.Set(float64(expiry.Unix()))
	v.hasCert.Store(true)
}

// observe records a completed handshake; nil (no TLS, or no handshake in
// this run) changes nothing.
func (v *tlsValues) observe(info *probes.TLSInfo) {
	if info == nil {
		return
	}
	v.setCert(info.CertExpiry)
	if l := v.version.Load(); l == nil || l.value != info.Version {
		v.version.Store(tlsVersions.get(info.Version))
	}
	if l := v.cipher.Load(); l == nil || l.value != info.CipherSuite {
		v.cipher.Store(tlsCiphers.get(info.CipherSuite))
	}
}

func (v *grpcValues) observe(g *probes.GRPCInfo) {
	if g == nil {
		return
	}
	v.code.Set(float64(g.Code))
	serving := int32(-1)
	for i := range servingStatuses {
		if servingStatuses[i].value == g.ServingStatus {
			serving = int32(i)
		}
	}
	v.serving.Store(serving)
	v.hasCall.Store(true)
}

// infoLabel is one value of an info gauge's label and its pair, shared by
// every check: TLS versions and cipher suites are a handful of names, as
// phases are.
type infoLabel struct {
	value string
	pair  expo.Pair
}

// labelValues interns the infoLabels of one label name. Observe looks one up
// only when a check's value changes.
type labelValues struct {
	name   string
	values sync.Map // value -> *infoLabel
}

func (l *labelValues) get(value string) *infoLabel {
	if v, ok := l.values.Load(value); ok {
		return v.(*infoLabel)
	}
	v, _ := l.values.LoadOrStore(value, &infoLabel{value: value, pair: expo.NewPair(l.name, value)})
	return v.(*infoLabel)
}

var (
	tlsVersions = &labelValues{name: "version"}
	tlsCiphers  = &labelValues{name: "cipher"}
	// journeySteps are the step="name" pairs of journeys' series.
	journeySteps = &labelValues{name: "step"}
)

// servingStatuses are grpc.health.v1's serving statuses, sorted by name as
// the series of vigil_grpc_healthcheck_response are.
var servingStatuses = func() [4]infoLabel {
	var s [4]infoLabel
	for i, name := range [4]string{"NOT_SERVING", "SERVICE_UNKNOWN", "SERVING", "UNKNOWN"} {
		s[i] = infoLabel{value: name, pair: expo.NewPair("serving_status", name)}
	}
	return s
}()

// infoGauge is a family of gauges that are always 1 and say what they say in
// one label, e.g. vigil_tls_version_info{version="TLS 1.3"}.
func infoGauge(name, help string, label func(c *CheckMetrics) *infoLabel) checkFamily {
	return checkFamily{expo.Family{Name: name, Help: help, Type: expo.Gauge}, func(w *expo.Writer, c *CheckMetrics) {
		if l := label(c); l != nil {
			w.SampleWith(&c.labels, &l.pair, 1)
		}
	}}
}
