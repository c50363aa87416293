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
	tuneGC()
	if got := debug.SetGCPercent(100); got != agentGCPercent {
		t.Fatalf("GOGC unset: GC percent %d, want %d", got, agentGCPercent)
	}

	t.Setenv("GOGC", "200") // the runtime read it at start; the agent must not override it
	tuneGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC set: GC percent changed to %d, want it left alone", got)
	}
}
