package sla

// flapState finds flapping: more than Flap.Changes state changes within
// Flap.Window, until the state has been stable for the window. It keeps the
// times of the last Changes+1 changes in a ring; in memory only (after a
// restart it starts over).
type flapState struct {
	times []int64 // ring, allocated at the first change
	pos   int32   // the next slot
	n     int32   // changes held, up to len(times)
	// since is when the feature began flapping; 0 when it is not.
	since int64
}

// flapRule returns the feature's flap rule with the defaults filled in.
func (f *feature) flapRule() Flap {
	r := f.spec.Flap
	if r.Changes <= 0 {
		r.Changes = DefaultFlap.Changes
	}
	if r.Window <= 0 {
		r.Window = DefaultFlap.Window
	}
	return r
}

// note records a state change at t.
func (f *feature) noteChange(t int64) {
	r := f.flapRule()
	s := &f.flap
	if len(s.times) != r.Changes+1 {
		*s = flapState{times: make([]int64, r.Changes+1), since: s.since}
	}
	f.flapping(t) // clears a spell that ended before this change
	s.times[s.pos] = t
	s.pos = (s.pos + 1) % int32(len(s.times))
	s.n = min(s.n+1, int32(len(s.times)))
	// The oldest held change is at pos once the ring is full.
	if s.since == 0 && s.n == int32(len(s.times)) && t-s.times[s.pos] < int64(r.Window) {
		s.since = t
	}
}

// flapping reports whether the feature is flapping at now, and since when.
func (f *feature) flapping(now int64) (bool, int64) {
	s := &f.flap
	if s.since == 0 {
		return false, 0
	}
	last := s.times[(int(s.pos)-1+len(s.times))%len(s.times)]
	if now-last >= int64(f.flapRule().Window) {
		s.since = 0
		return false, 0
	}
	return true, s.since
}
