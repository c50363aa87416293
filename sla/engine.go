package sla

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-monitoring/vigil/sla/store"
	"github.com/vigil-monitoring/vigil/sla/store/boltstore"
)

const (
	defaultRetention = 400 * 24 * time.Hour
	maxHeartbeat     = 10 * time.Second
	compactEvery     = 24 * time.Hour
	// lockTimeout bounds the wait for the store's file lock.
	lockTimeout = time.Second
	// storeFile is the store's name inside Options.Path.
	storeFile = "vigil.db"
)

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Engine evaluates features from check results, keeps their history in the
// store, and answers status, outage, report and metrics queries. It is safe
// for concurrent use.
//
// Locks: Engine.mu guards the feature maps; feature.mu guards one feature;
// writeMu orders store writes against Close and is taken after feature.mu
// (the evaluation path writes while holding its feature): evaluations take it
// shared, so that many features' transitions share a commit (groupCommit),
// the heartbeat, Configure and Close exclusive; beatMu serializes the
// heartbeat, Configure and Close, which snapshot features first and write
// after, never holding a feature lock while waiting for writeMu.
type Engine struct {
	clock             Clock
	log               *slog.Logger
	region            string
	file              string
	retention         time.Duration
	heartbeatInterval time.Duration
	readOnly          bool
	store             store.Store

	mu         sync.RWMutex
	features   map[string]*feature
	all        []*feature // every known feature, configured or not, sorted by key
	configured []*feature // the current config's features, sorted by key
	gaps       []interval // the agent was not running; sorted
	// generation changes whenever configured does (Figures).
	generation uint64
	// nConfigured is len(configured), for outbox heartbeats (outbox.go).
	nConfigured atomic.Int64

	beatMu      sync.Mutex
	writeMu     sync.RWMutex
	lastCompact int64
	// backlog is what failed to reach the store, written again at the next
	// heartbeat (storehealth.go).
	backlog storeBacklog
	// outageIDs is the last outage ID handed out: IDs are given in memory,
	// so that a write that fails and is retried keeps its ID and two outages
	// never share one.
	outageIDs atomic.Uint64
	// vantage is the agent's network as its canaries see it.
	vantage *vantage
	// configureChunk is configureChunk but in tests.
	configureChunk int

	closed    atomic.Bool
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// CheckRef is a handle for observing one check's results quickly. It stays
// valid until the next Configure; after a Configure that removed its feature
// or check, Observe is a no-op.
type CheckRef struct {
	e    *Engine
	f    *feature
	idx  int
	name string
	// gen and canary share a word: 48 bytes, not 64, one per check.
	gen    uint32
	canary bool
}

// Open opens or creates the bbolt store under opts.Path and starts an
// engine on it (New).
func Open(opts Options) (*Engine, error) {
	if opts.Path == "" {
		return nil, errors.New("sla store: no storage path")
	}
	if err := os.MkdirAll(opts.Path, 0o750); err != nil {
		return nil, boltstore.OpenError(opts.Path, false, fmt.Errorf("create directory: %w", err))
	}
	file := filepath.Join(opts.Path, storeFile)
	bolt, err := boltstore.Open(file, boltstore.Options{Timeout: lockTimeout, NoSync: opts.noSync, InitialMap: storeMapFor(opts.Features)})
	if err != nil {
		return nil, boltstore.OpenError(file, false, err)
	}
	e, err := start(bolt, opts, file)
	if err != nil {
		_ = bolt.Close()
		return nil, boltstore.OpenError(file, false, err)
	}
	return e, nil
}

// New starts an engine on store: it loads the history, records the time
// since the last heartbeat as unmonitored, and starts the heartbeat. Close
// closes the store.
func New(st store.Store, opts Options) (*Engine, error) {
	return start(st, opts, "(memory)")
}

func start(st store.Store, opts Options, file string) (*Engine, error) {
	e := newEngine(opts, file, false)
	e.store = e.withOutbox(st, opts)
	h, err := st.Load()
	if err != nil {
		return nil, err
	}
	now := e.nowNanos()
	heartbeat, err := e.load(h)
	if err != nil {
		return nil, err
	}
	b := &store.Batch{Region: e.region, Unclean: true, Heartbeat: now}
	e.resume(b, heartbeat, now, h.Clean)
	b.Compactions = append(b.Compactions, *e.compactMemory(now))
	if err := e.store.Write(b); err != nil {
		return nil, err
	}
	e.stop, e.done = make(chan struct{}), make(chan struct{})
	if opts.ScheduledHeartbeat {
		close(e.done)
	} else {
		go e.heartbeatLoop()
	}
	return e, nil
}

// OpenReadOnly opens the store for `vigil report`: no heartbeat, no writes.
// path is the storage directory (or the store file itself). Time after the
// last heartbeat counts as unmonitored. If a running agent holds the store,
// it fails after about a second.
func OpenReadOnly(path string) (*Engine, error) {
	file := path
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		file = filepath.Join(path, storeFile)
	}
	if _, err := os.Stat(file); err != nil {
		return nil, boltstore.OpenError(file, true, err)
	}
	bolt, err := boltstore.Open(file, boltstore.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		return nil, boltstore.OpenError(file, true, err)
	}
	e, err := readOnly(bolt, file)
	if err != nil {
		_ = bolt.Close()
		return nil, boltstore.OpenError(file, true, err)
	}
	return e, nil
}

// readOnly loads store's history for reading only.
func readOnly(st store.Store, file string) (*Engine, error) {
	e := newEngine(Options{}, file, true)
	e.store = st
	h, err := st.Load()
	if err != nil {
		return nil, err
	}
	e.region = h.Region
	heartbeat, err := e.load(h)
	if err != nil {
		return nil, err
	}
	if heartbeat > 0 {
		e.gaps = append(e.gaps, interval{heartbeat, never})
		for _, f := range e.all {
			f.endSpellsAt(heartbeat)
		}
	}
	return e, nil
}

func newEngine(opts Options, file string, readOnly bool) *Engine {
	e := &Engine{
		clock: opts.Clock, log: opts.Logger, region: opts.Region, file: file,
		retention: opts.Retention, heartbeatInterval: opts.HeartbeatInterval, readOnly: readOnly,
		features: map[string]*feature{}, configureChunk: configureChunk,
	}
	e.vantage = newVantage(e)
	if e.clock == nil {
		e.clock = realClock{}
	}
	if e.log == nil {
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if e.retention <= 0 {
		e.retention = defaultRetention
	}
	if e.heartbeatInterval <= 0 || e.heartbeatInterval > maxHeartbeat {
		e.heartbeatInterval = maxHeartbeat
	}
	return e
}

func (e *Engine) nowNanos() int64 { return e.clock.Now().UnixNano() }

// feature returns the feature for key, creating it (unconfigured) if new.
// Call with e.mu held for writing, or before the engine is shared.
func (e *Engine) feature(key string) *feature {
	f := e.features[key]
	if f == nil {
		service, name := splitKey(key)
		f = &feature{key: key, machine: StateUnknown, maintUntil: never, vantage: e.vantage}
		f.spec.Service, f.spec.Feature = service, name
		e.features[key] = f
	}
	return f
}

// rebuildLists refreshes the sorted feature lists; call with e.mu held.
func (e *Engine) rebuildLists() {
	all := make([]*feature, 0, len(e.features))
	var configured []*feature
	for _, f := range e.features {
		all = append(all, f)
	}
	slices.SortFunc(all, func(a, b *feature) int { return strings.Compare(a.key, b.key) })
	for _, f := range all {
		if f.configured {
			configured = append(configured, f)
		}
	}
	e.all, e.configured = all, configured
	e.nConfigured.Store(int64(len(configured)))
	e.generation++
}

// resume records the gap since the last heartbeat and carries the state over
// the restart; see DESIGN.md "SLA semantics".
func (e *Engine) resume(b *store.Batch, heartbeat, now int64, clean bool) {
	if heartbeat == 0 {
		return
	}
	before := e.gaps
	gap := interval{heartbeat, max(now, heartbeat)}
	if gap.end > gap.start {
		e.gaps = append(slices.Clip(e.gaps), gap)
		b.Gaps = append(b.Gaps, gap.record())
	}
	// After a crash the agent may have run on for up to one heartbeat
	// interval after the last heartbeat, and scrapes seen the counters grow
	// meanwhile. After a clean Close the last heartbeat was the end.
	ranOn := min(gap.end-gap.start, int64(e.heartbeatInterval))
	if clean {
		ranOn = 0
	}
	var l ledger
	for _, f := range e.all {
		f.resume(b, before, e.gaps, heartbeat, now, ranOn, &l)
	}
}

// resume carries one feature over the gap [heartbeat, now): before are the
// gaps without it, gaps with it. The counters come back at no less than a
// scrape may have seen (computed from the record as it was, as if the agent
// had run on for ranOn), and the difference from the record is their lead.
func (f *feature) resume(b *store.Batch, before, gaps []interval, heartbeat, now, ranOn int64, l *ledger) {
	seen := f.counters
	if ranOn > 0 {
		last := heartbeat + ranOn
		l.build(f, before, min(seen.at, seen.downAt), last, last)
		seen = f.shown(last, l)
	}
	if f.configured {
		f.counters.unmonitored += now - heartbeat
		// A feature cut by an agent fault is checked afresh after the restart.
		if n := len(f.presence); n > 0 && f.presence[n-1].end != openEnd {
			f.presence = append(f.presence, interval{now, openEnd})
			putInterval(b, store.IntervalPresence, f.key, f.presence[n])
		}
	}
	if spell := f.endSpellsAt(heartbeat); spell != nil {
		putInterval(b, store.IntervalDegraded, f.key, *spell)
	}
	if f.machine == StateRecovering {
		f.machine = StateDown // recovery starts over after a restart
		putMachine(b, f.key, f.machine, f.machineSince)
	}
	f.accountTo(now, gaps, l)
	f.counters.lift(seen)
	putCounters(b, f.key, f.counters)
}

// endSpellsAt ends an open degraded spell when the agent stopped: after a
// restart the state is unknown until the first result. It returns the
// spell if it changed.
func (f *feature) endSpellsAt(heartbeat int64) *interval {
	n := len(f.degraded)
	if n == 0 || f.degraded[n-1].end != openEnd {
		return nil
	}
	f.degraded[n-1].end = max(heartbeat, f.degraded[n-1].start)
	return &f.degraded[n-1]
}

// Configure applies the features of a config load or reload. Features not in
// specs keep their history but are no longer evaluated or exported; a new
// name is a new feature. It is idempotent.
func (e *Engine) Configure(specs []FeatureSpec) error {
	if e.readOnly {
		return fmt.Errorf("sla store %s: opened read-only", e.file)
	}
	plan, err := planConfigure(specs)
	if err != nil {
		return err
	}
	e.beatMu.Lock()
	defer e.beatMu.Unlock()
	if e.closed.Load() {
		return fmt.Errorf("sla store %s: engine closed", e.file)
	}
	writes := e.applyConfigure(plan, e.nowNanos())
	var bufs configureBuffers
	for start := 0; start < len(writes); start += e.configureChunk {
		chunk := writes[start:min(start+e.configureChunk, len(writes))]
		if err := e.writeConfigure(chunk, &bufs); err != nil {
			keys := make([]string, 0, len(writes)-start)
			for _, w := range writes[start:] {
				keys = append(keys, w.f.key)
			}
			e.writeFailed(err, keys, nil) // memory has the new config: write it at the next heartbeat
			return storeError(e.file, "configure", err)
		}
	}
	return nil
}

// storeMapFor is the address space the store maps from the start for a
// first configuration of n features: a first write takes about 1 KB a
// feature (50 MB at 50,000), and room for twice that keeps the history's
// first days from remapping too.
func storeMapFor(n int) int { return n * 2 << 10 }

// configureChunk is how many features one of Configure's transactions
// writes at most. A first configuration of 50,000 features in one
// transaction allocated 1 GB, 720 MB of it bbolt's: each time the file
// outgrew bbolt's map, bbolt remapped and first copied every node the
// transaction had touched onto the heap. A feature's records stay in one
// transaction, so a crash between two leaves features written whole or not
// at all, and the next start's Configure writes the rest (as it writes any
// feature whose record differs from the config).
const configureChunk = 2000

// writeConfigure writes the records of features Configure changed, in one
// transaction. The batch is built before writeMu is taken: feature locks
// come first (Engine).
func (e *Engine) writeConfigure(writes []configureWrite, bufs *configureBuffers) error {
	n := len(writes) // each puts a feature, its presence and its counters
	b := &bufs.batch
	*b = store.Batch{Features: slices.Grow(b.Features[:0], n), Intervals: slices.Grow(b.Intervals[:0], n),
		Counters: slices.Grow(b.Counters[:0], n)}
	specs := bufs.specs[:0]
	for i, w := range writes {
		specs = w.put(b, specs)
		if i == 0 && cap(specs) < len(specs)*n {
			// Sized from the first spec: grown by appending, the buffer
			// left twice its size in garbage.
			specs = slices.Grow(specs, len(specs)*n*5/4)
		}
	}
	bufs.specs = specs
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	return e.store.Write(b)
}

// configureBuffers are what Configure's chunks reuse, one after the other:
// the batch and the features' spec JSON, which the store copies into its
// records (Write keeps nothing of a batch). A first configuration of 50,000
// features allocated both anew for each chunk, 30 MB.
type configureBuffers struct {
	batch store.Batch
	specs []byte
}

// configurePlan is a validated config: the specs (the caller's, not
// copied: at 50,000 features a copy was 10 MB), the engine's copies of their
// labels, their parsed maintenance schedules, and their keys.
type configurePlan struct {
	specs     []FeatureSpec
	labels    []map[string]string
	schedules []*maintSchedule
	keys      map[string]bool
}

// planConfigure validates specs before anything changes.
func planConfigure(specs []FeatureSpec) (*configurePlan, error) {
	p := &configurePlan{specs: specs, labels: make([]map[string]string, len(specs)),
		schedules: make([]*maintSchedule, len(specs)), keys: make(map[string]bool, len(specs))}
	sets := labelSets{}
	for i, s := range specs {
		id := s.Service + "/" + s.Feature
		if err := validateSpec(s); err != nil {
			return nil, fmt.Errorf("sla configure %s: %w", id, err)
		}
		key := featureKey(s.Service, s.Feature)
		if p.keys[key] {
			return nil, fmt.Errorf("sla configure %s: feature listed twice", id)
		}
		p.keys[key] = true
		sched, err := parseMaintenance(s.Maintenance)
		if err != nil {
			return nil, fmt.Errorf("sla configure %s: %w", id, err)
		}
		p.schedules[i] = sched
		p.labels[i] = sets.own(s.Labels)
	}
	return p, nil
}

// configureWrite is a feature Configure changed, to be written.
type configureWrite struct {
	f       *feature
	removed *removal // nil unless f was removed
}

// put adds the feature's records to b, its spec's JSON appended to specs,
// and returns specs.
func (w configureWrite) put(b *store.Batch, specs []byte) []byte {
	f := w.f
	f.mu.Lock()
	defer f.mu.Unlock()
	start := len(specs)
	specs = appendSpecJSON(specs, f.spec)
	putFeature(b, f.key, f.recordWith(specs[start:len(specs):len(specs)]))
	putInterval(b, store.IntervalPresence, f.key, f.presence[len(f.presence)-1])
	putCounters(b, f.key, f.counters)
	if m := f.takeMaint(); m != nil {
		b.Maintenance = append(b.Maintenance, *m)
	}
	if w.removed != nil {
		w.removed.put(b, f.key)
	}
	return specs
}

// applyConfigure installs plan in memory at now and returns the features
// whose records changed.
func (e *Engine) applyConfigure(plan *configurePlan, now int64) []configureWrite {
	writes := make([]configureWrite, 0, len(plan.specs)) // a first configuration writes them all
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.features) == 0 { // sized: grown, the map left its own size in garbage
		e.features = make(map[string]*feature, len(plan.specs))
	}
	for i, s := range plan.specs {
		s.Labels = plan.labels[i]
		f := e.feature(featureKey(s.Service, s.Feature))
		f.mu.Lock()
		if f.apply(s, plan.schedules[i], now) {
			writes = append(writes, configureWrite{f: f})
		}
		f.mu.Unlock()
	}
	for _, f := range e.configured {
		if plan.keys[f.key] {
			continue
		}
		f.mu.Lock()
		r := f.remove(now)
		f.mu.Unlock()
		writes = append(writes, configureWrite{f, r})
	}
	e.rebuildLists()
	return writes
}

// removal is what removing a feature from the config changed in records
// that otherwise only the evaluation path writes. No evaluation can run for
// a removed feature, so Configure writing them cannot race.
type removal struct {
	outage *outageRec
	spell  *interval
	since  int64
}

func (r *removal) put(b *store.Batch, fkey string) {
	if r.outage != nil {
		putOutage(b, fkey, r.outage)
	}
	if r.spell != nil {
		putInterval(b, store.IntervalDegraded, fkey, *r.spell)
	}
	putMachine(b, fkey, StateUnknown, r.since)
}

// remove takes the feature out of the config at now: its open outage and
// degraded spell end there, and if it comes back it starts afresh (unknown
// until its first result). It returns what Configure must write. Call with
// f.mu held.
func (f *feature) remove(now int64) *removal {
	f.configured = false
	f.gen++
	if f.blindSince != 0 { // the cut in presence ends as the feature goes
		f.blindDone += max(0, now-max(f.counters.at, f.blindSince))
		f.blindSince = 0
	}
	for i := range f.checks {
		f.checks[i].blind = false
	}
	if n := len(f.presence); n > 0 && f.presence[n-1].end == openEnd {
		f.presence[n-1].end = max(now, f.presence[n-1].start)
	}
	r := &removal{since: now}
	if f.open != nil {
		f.open.End = max(now, f.open.Start)
		o := *f.open
		r.outage, f.open = &o, nil
	}
	if spell := f.endSpellsAt(now); spell != nil {
		sp := *spell
		r.spell = &sp
	}
	f.machine, f.machineSince, f.fresh = StateUnknown, now, false
	f.startAfresh()
	f.impaired = false
	return r
}

// validateSpec checks what the engine relies on; the config package checks
// the rest.
func validateSpec(s FeatureSpec) error {
	if s.Service == "" || s.Feature == "" {
		return errors.New("service and feature names must not be empty")
	}
	if strings.ContainsRune(s.Service+s.Feature, 0) {
		return errors.New("names must not contain NUL")
	}
	if s.Objective < 0 || s.Objective >= 1 {
		return fmt.Errorf("objective %g is not a ratio in [0, 1)", s.Objective)
	}
	if s.Require.Mode == RequireQuorum && (s.Require.N < 1 || s.Require.N > len(s.Checks)) {
		return fmt.Errorf("quorum(%d) needs between 1 and %d checks", s.Require.N, len(s.Checks))
	}
	names := make(map[string]bool, len(s.Checks))
	for _, c := range s.Checks {
		if c.Name == "" || names[c.Name] {
			return fmt.Errorf("check name %q empty or listed twice", c.Name)
		}
		names[c.Name] = true
	}
	return nil
}

// apply installs a new spec, whose Labels are the engine's own (labelSets);
// it reports whether anything changed. Call with f.mu held.
func (f *feature) apply(s FeatureSpec, sched *maintSchedule, now int64) bool {
	if f.configured && sameSpec(f.spec, s) {
		return false
	}
	wasConfigured := f.configured
	if !wasConfigured {
		f.configured = true
		f.presence = append(f.presence, interval{now, openEnd})
		if f.counters.at == 0 {
			f.counters.at, f.counters.downAt = now, now
		}
	}
	if !sameChecks(f.spec.Checks, s.Checks) || len(f.checks) != len(s.Checks) {
		old, oldSpecs := f.checks, f.spec.Checks
		f.checks = make([]checkState, len(s.Checks))
		for i, cs := range s.Checks {
			for j := range old {
				if oldSpecs[j].Name == cs.Name {
					f.checks[i] = old[j] // keep the latest result across reloads
				}
			}
		}
		f.gen++
	}
	for i := range f.checks {
		f.checks[i].setRule(s.Checks[i], s.FailureThreshold, s.RecoveryThreshold)
	}
	if !wasConfigured && f.vantage != nil && f.vantage.impairedAt.Load() != 0 {
		f.impaired = true // configured while the vantage is impaired
		f.cut(now)
	}
	if !wasConfigured || !sameMaintenance(f.spec.Maintenance, s.Maintenance) {
		// A schedule applies from when it is configured: earlier windows stay
		// as they were, later ones follow the new schedule.
		f.truncateMaint(now)
		f.schedule = sched
		f.maintFrom, f.maintUntil = now, now
		f.extendMaint(now + int64(maintHorizon))
	}
	f.spec = cloneSpec(s)
	return true
}

// cloneSpec copies what the caller could change later; Labels are already
// the engine's own.
func cloneSpec(s FeatureSpec) FeatureSpec {
	s.Maintenance = slices.Clone(s.Maintenance)
	s.Checks = slices.Clone(s.Checks)
	return s
}

// labelSets keeps one copy of each distinct set of feature labels: the
// features of a service mostly have the same, and the engine never writes to
// them (nor do the callers of Features).
type labelSets map[string]map[string]string

// own returns the engine's copy of labels: nil for nil, empty for empty.
func (sets labelSets) own(labels map[string]string) map[string]string {
	if labels == nil {
		return nil
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		// Quoted, names and values cannot run into each other.
		b.WriteString(strconv.Quote(k))
		b.WriteString(strconv.Quote(labels[k]))
	}
	key := b.String()
	m, ok := sets[key]
	if !ok {
		m = maps.Clone(labels)
		sets[key] = m
	}
	return m
}

func sameChecks(a, b []CheckSpec) bool { return slices.Equal(a, b) }

func sameSpec(a, b FeatureSpec) bool {
	return a.Service == b.Service && a.Feature == b.Feature && a.ServiceTitle == b.ServiceTitle &&
		a.Title == b.Title && maps.Equal(a.Labels, b.Labels) && a.Require == b.Require &&
		a.Objective == b.Objective && a.Window == b.Window && sameCalendar(a.Calendar, b.Calendar) && a.Latency == b.Latency &&
		a.FailureThreshold == b.FailureThreshold && a.RecoveryThreshold == b.RecoveryThreshold &&
		sameMaintenance(a.Maintenance, b.Maintenance) && sameChecks(a.Checks, b.Checks) && sameGate(a.Gate, b.Gate)
}

// Check returns a handle for observing a check's results, nil if the check
// is not configured.
func (e *Engine) Check(service, feature, check string) *CheckRef {
	e.mu.RLock()
	f := e.features[featureKey(service, feature)]
	e.mu.RUnlock()
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	idx := f.checkIndex(check)
	if !f.configured || idx < 0 {
		return nil
	}
	return &CheckRef{e: e, f: f, idx: idx, gen: f.gen, name: check}
}

// Observe feeds one check result into the engine: the hot path. A passing
// result that changes nothing takes no allocation and no store write.
func (r *CheckRef) Observe(o Observation) {
	if r == nil {
		return
	}
	f := r.f
	f.mu.Lock()
	if r.canary {
		r.observeCanary(o)
		return
	}
	defer f.mu.Unlock()
	idx := r.idx
	if f.gen != r.gen {
		idx = f.checkIndex(r.name) // a reload changed the check list
	}
	if !f.configured || idx < 0 || r.e.readOnly || r.e.closed.Load() {
		return
	}
	f.observe(idx, o, r.e)
}

// Observe is CheckRef.Observe by names; it may allocate.
func (e *Engine) Observe(service, feature, check string, o Observation) {
	e.Check(service, feature, check).Observe(o)
}

// observe records the result and evaluates the feature, writing what
// changed. Call with f.mu held.
func (f *feature) observe(idx int, o Observation, e *Engine) {
	t := o.Start.UnixNano()
	c := &f.checks[idx]
	if c.has && t < c.lastStart {
		return // a straggler older than the latest result
	}
	if f.impaired {
		// The vantage is impaired: the result says nothing of the service
		// and the feature is evaluated afresh when the vantage is back.
		return
	}
	c.has, c.lastStart, c.last = true, t, o
	if o.AgentFault != "" {
		// The agent could not check: no evaluation, and the feature's time
		// is unmonitored until the check's next real result.
		c.blind = true
		if cut := f.cut(t); cut != nil {
			e.persist(f, change{presence: cut})
		}
		return
	}
	c.blind = false
	ch := f.feed(idx, t, o.Success, o.Error, e)
	ch.presence = f.uncut(t)
	if ch.any() {
		e.persist(f, ch)
	}
}

// catchUpStale feeds the stale results due before t, in time order: a check
// with no run for 2 × interval + timeout counts a failed run then, and
// again every such span it stays silent. Only the heartbeat calls it, with
// t a heartbeat interval back (catchUpAll). Call with f.mu held.
func (f *feature) catchUpStale(t int64, e *Engine) {
	for {
		i, due := -1, int64(0)
		for k := range f.checks {
			if d := f.checks[k].staleDue(); d != 0 && d < t && (i < 0 || d < due) {
				i, due = k, d
			}
		}
		if i < 0 {
			return
		}
		if f.skipStale(t) {
			return
		}
		c := &f.checks[i]
		c.lastStart, c.last = due, c.staleObservation(due)
		if ch := f.feed(i, due, false, c.last.Error, e); ch.any() {
			e.persist(f, ch)
		}
	}
}

// skipStale settles at once the stale results due before t when every
// check they fall on is confirmed failing already: more failed runs change
// no state then, only how far the evaluations have gone. So a long silence
// costs a few steps, not one per stale result. It reports whether it did.
func (f *feature) skipStale(t int64) bool {
	for k := range f.checks {
		if c := &f.checks[k]; c.staleDue() != 0 && c.staleDue() < t && c.conf != confFailing {
			return false
		}
	}
	for k := range f.checks {
		if last, ok := f.checks[k].skipStale(t); ok {
			f.lastEval = max(f.lastEval, last)
		}
	}
	return true
}

// feed runs one run of check idx, started at s, through the check's
// confirmation and the feature's state machine. Call with f.mu held.
func (f *feature) feed(idx int, s int64, ok bool, err string, e *Engine) change {
	// Results of different checks may arrive out of order; the feature's
	// evaluations never go back in time, so transitions stay ordered.
	t := max(s, f.lastEval)
	f.lastEval = t
	if t >= f.maintUntil {
		f.extendMaint(max(t, e.nowNanos()) + int64(maintHorizon))
	}
	if contains(f.maint, t) {
		return change{} // maintenance: runs neither count towards nor reset a streak
	}
	f.checks[idx].run(s, ok, err)
	ch := f.decide(t, f.vantageGood())
	if len(f.held) > 0 {
		v := f.vantage
		v.holdFor(f)
		if !v.isImpaired() { // the canaries may have vouched meanwhile
			f.commitHeld(v.good.Load(), e)
		}
	}
	return ch
}

// persist writes what one evaluation changed; call with f.mu held.
func (e *Engine) persist(f *feature, ch change) {
	var reasonText string
	state := f.machine
	if ch.transition {
		reasonText = f.reasonText(state)
	}
	var tw *transitionWrite
	if ch.transition {
		tw = &transitionWrite{at: f.lastEval, rec: transitionRecord{From: ch.from, To: state, Reason: reasonText}}
	}
	if ch.outage != nil && ch.outage.ID == 0 {
		ch.outage.ID = e.outageIDs.Add(1)
	}
	e.writeMu.RLock()
	defer e.writeMu.RUnlock()
	if e.closed.Load() {
		return
	}
	b := &store.Batch{}
	if ch.transition {
		putMachine(b, f.key, state, f.machineSince)
		b.Transitions = append(b.Transitions, tw.record(f.key))
	}
	if ch.outage != nil {
		putOutage(b, f.key, ch.outage)
	}
	if ch.presence != nil {
		putInterval(b, store.IntervalPresence, f.key, *ch.presence)
	}
	if ch.degraded != nil {
		putInterval(b, store.IntervalDegraded, f.key, *ch.degraded)
	}
	if err := e.store.Write(b); err != nil {
		e.log.Error("sla store write failed; kept in memory, written again at the next heartbeat", "file", e.file,
			"service", f.spec.Service, "feature", f.spec.Feature, "err", err)
		e.writeFailed(err, []string{f.key}, tw)
	}
}

// Heartbeat persists liveness, the counters and new maintenance windows,
// retries what the store missed, and compacts once a day: the engine's
// periodic duty, for a caller that opened it with ScheduledHeartbeat. After
// Close it does nothing.
func (e *Engine) Heartbeat() error {
	if e.readOnly {
		return nil
	}
	return e.beat(false)
}

// HeartbeatInterval is how often Heartbeat is due (at most 10 s).
func (e *Engine) HeartbeatInterval() time.Duration { return e.heartbeatInterval }

// heartbeatLoop persists liveness and counters until Close.
func (e *Engine) heartbeatLoop() {
	defer close(e.done)
	ticker := time.NewTicker(e.heartbeatInterval)
	defer ticker.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-ticker.C:
			if err := e.beat(false); err != nil {
				e.log.Error("sla heartbeat failed", "file", e.file, "err", err)
			}
		}
	}
}

// beat persists the heartbeat, the counters accumulated up to now and newly
// materialized maintenance windows, and compacts once a day. The final beat
// of Close also marks the shutdown clean.
func (e *Engine) beat(final bool) error {
	e.beatMu.Lock()
	defer e.beatMu.Unlock()
	e.retryUnsaved()
	now := e.nowNanos()
	// Silences older than a heartbeat interval: a run the agent started late
	// under load is never one (its result is on the way).
	e.catchUpAll(now - int64(e.heartbeatInterval))
	e.mu.RLock()
	all, gaps := e.all, e.gaps
	e.mu.RUnlock()

	b := &store.Batch{Clean: final, Heartbeat: now}
	var keys []string
	var l ledger
	for _, f := range all {
		if f.snapshotBeat(b, now, gaps, &l) {
			keys = append(keys, f.key)
		}
	}
	var compact *store.Compaction
	if now-e.lastCompact >= int64(compactEvery) {
		compact = e.compactMemory(now)
		b.Compactions = append(b.Compactions, *compact)
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if e.closed.Load() {
		return nil
	}
	if err := e.store.Write(b); err != nil {
		e.beatFailed(err, keys, compact)
		return storeError(e.file, "heartbeat", err)
	}
	e.beatSaved()
	return nil
}

// snapshotBeat accounts the feature's counters up to now, materializes its
// maintenance windows ahead, and adds to b what changed; it reports whether
// anything did.
func (f *feature) snapshotBeat(b *store.Batch, now int64, gaps []interval, l *ledger) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	changed := false
	if f.configured && f.maintUntil < now+int64(maintHorizon/2) {
		f.extendMaint(now + int64(maintHorizon))
		putFeature(b, f.key, f.record())
		changed = true
	}
	before := f.counters
	f.accountTo(now, gaps, l)
	if !f.counters.sameTotals(before) {
		putCounters(b, f.key, f.counters)
		changed = true
	}
	if m := f.takeMaint(); m != nil {
		b.Maintenance = append(b.Maintenance, *m)
		changed = true
	}
	return changed
}

// accountTo adds downtime, degraded and blind time up to now to the
// counters.
func (f *feature) accountTo(now int64, gaps []interval, l *ledger) {
	if now <= f.counters.at {
		return
	}
	l.build(f, gaps, min(f.counters.at, f.counters.downAt), now, now)
	at := f.counters.at
	f.counters = f.shown(now, l)
	if f.counters.at != at {
		f.blindDone = 0 // in the counter now
	}
}

// Ready reports whether the store is open and keeping up: false while
// writes fail (StoreHealth).
func (e *Engine) Ready() bool { return e != nil && !e.closed.Load() && !e.StoreHealth().Failing() }

// Close writes a final heartbeat and the counters, and closes the store. It
// is safe to call more than once.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		if !e.readOnly {
			close(e.stop)
			<-e.done
			e.closeErr = e.beat(true)
			if h := e.StoreHealth(); h.Failing() {
				e.closeErr = fmt.Errorf("%w; %d records of history written since %s are lost",
					e.closeErr, h.Pending, h.Since.Format(time.RFC3339))
			}
		}
		// Holding both locks, no Configure, heartbeat or evaluation is
		// between its closed check and its write.
		e.beatMu.Lock()
		defer e.beatMu.Unlock()
		e.writeMu.Lock()
		defer e.writeMu.Unlock()
		e.closed.Store(true)
		if err := e.store.Close(); err != nil && e.closeErr == nil {
			e.closeErr = storeError(e.file, "close", err)
		}
	})
	return e.closeErr
}
