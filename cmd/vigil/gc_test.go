package main

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestTuneGCHalvesHeadroomUnlessGOGCIsSet(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)

	t.Setenv("GOGC", "") // registers the restore of the caller's value
	os.Unsetenv("GOGC")
	steady := tuneGC()
	if got := debug.SetGCPercent(100); got != startupGCPercent {
		t.Fatalf("GOGC unset, starting: GC percent %d, want %d", got, startupGCPercent)
	}
	steady()
	if got := debug.SetGCPercent(100); got != agentGCPercent {
		t.Fatalf("GOGC unset, started: GC percent %d, want %d", got, agentGCPercent)
	}

	t.Setenv("GOGC", "300") // the runtime read it at start; the agent must not override it
	steady = tuneGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC set, starting: GC percent changed to %d, want it left alone", got)
	}
	steady()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC set, started: GC percent changed to %d, want it left alone", got)
	}
}
