package sla

import (
	"testing"
	"time"
)

// FuzzCountersAcrossRestarts plays a random life of one feature (two checks,
// require any: one failing is degraded, both down) through results, agent
// faults, heartbeats, kill -9 and clean restarts, and checks the lifetime
// counters at every step: they never go down, and they agree with the
// report over all time (downtime and degraded at most one heartbeat
// interval above it, unmonitored time and outages exactly).
func FuzzCountersAcrossRestarts(f *testing.F) {
	f.Add([]byte{0x09, 0x11, 0x1d, 0x0e, 0x2e, 0x26, 0x13, 0x0b, 0x17})
	f.Add([]byte{0x01, 0x0c, 0x2a, 0x52, 0x0e, 0x36, 0x0a, 0x01, 0x5b, 0x1e})
	f.Add([]byte{0x08, 0x10, 0x0a, 0x1e, 0x1d, 0x2e, 0x1b, 0x1e, 0x18, 0x0f, 0x0e})
	f.Add([]byte{0x04, 0x0a, 0x0a, 0x1e, 0x0c, 0x0c, 0x0d, 0x1e, 0x16, 0x27})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 48 {
			ops = ops[:48]
		}
		clock := newFakeClock(t0)
		spec := testSpec("f", "a", "b")
		spec.Require = Require{Mode: RequireAny}
		e := openCrashTest(t, t.TempDir(), clock)
		mustConfigure(t, e, spec)
		var seen [4]float64
		lastBeat := t0
		// advance moves the clock on by d with the heartbeats a running
		// agent writes meanwhile (every 10 s).
		advance := func(d time.Duration) {
			end := clock.Now().Add(d)
			for next := lastBeat.Add(10 * time.Second); !next.After(end); next = lastBeat.Add(10 * time.Second) {
				clock.Set(next)
				if err := e.beat(false); err != nil {
					t.Fatal(err)
				}
				lastBeat = next
			}
			clock.Set(end)
		}
		for i, op := range ops {
			advance(time.Duration(op>>3) * time.Second)
			now := clock.Now()
			switch op & 7 {
			case 0, 1, 2, 3: // a result of check a or b, passing or failing
				e.Observe("talk", "f", string(rune('a'+op&1)), Observation{Start: now, Success: op&2 == 0, Error: "503"})
			case 4: // an agent fault on check a
				e.Observe("talk", "f", "a", Observation{Start: now, Error: "socket: too many open files", AgentFault: "too many open files"})
			case 5:
				if err := e.beat(false); err != nil {
					t.Fatal(err)
				}
				lastBeat = now
			case 6, 7: // kill -9 or a clean stop, then a restart some seconds later
				dir := e.file[:len(e.file)-len(storeFile)-1]
				if op&7 == 6 {
					dir = crashCopy(t, e)
				}
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
				clock.Add(time.Duration(1+i%7) * time.Second)
				lastBeat = clock.Now() // Open writes one
				e = openCrashTest(t, dir, clock)
				mustConfigure(t, e, spec)
			}
			got := exported(t, e, "f")
			for k := range got {
				if got[k] < seen[k] {
					t.Fatalf("op %d (%#x): %s went back from %v to %v", i, op, counterNames[k], seen[k], got[k])
				}
			}
			seen = got
			checkAgainstReport(t, e, i, got)
		}
	})
}

// checkAgainstReport compares the exported counters with the report over
// all time.
func checkAgainstReport(t *testing.T, e *Engine, op int, got [4]float64) {
	t.Helper()
	// The report's figures for all time, also when the report would leave
	// the feature out (no time configured and running yet).
	now := e.nowNanos()
	e.mu.RLock()
	f, gaps := e.features[featureKey("talk", "f")], e.gaps
	e.mu.RUnlock()
	var l ledger
	f.mu.Lock()
	l.build(f, gaps, t0.UnixNano(), now, now)
	sp := l.window(t0.UnixNano(), now)
	f.mu.Unlock()
	const heartbeat = 10
	outages := len(e.Outages(OutageQuery{}))
	for k, want := range [4]float64{seconds(sp.downtime), seconds(sp.degraded), seconds(sp.unmonitored), float64(outages)} {
		lead := 0.0
		if k < 2 {
			lead = heartbeat
		}
		if got[k] < want-1e-9 || got[k] > want+lead+1e-9 {
			t.Fatalf("after op %d: %s = %v, the report says %v", op, counterNames[k], got[k], want)
		}
	}
}
