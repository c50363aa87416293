package sla

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// outageRecord is what a reopened store must give back of an outage.
type outageRecord struct {
	id        uint64
	feature   string
	span      outageSpan
	checkFail string
}

func outageRecords(e *Engine) []outageRecord {
	var out []outageRecord
	for _, o := range e.Outages(OutageQuery{}) {
		out = append(out, outageRecord{o.ID, o.Feature, spans([]Outage{o})[0], o.Cause.Check})
	}
	return out
}

// TestWriteFailureKeptAndRetried: writes that fail (here through the test
// seam, as a full disk fails bbolt's commit) are counted, make the engine
// unready, and are written from memory once the store works again; nothing
// opened meanwhile is lost across a restart.
func TestWriteFailureKeptAndRetried(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock(t0)
	e, err := Open(Options{Path: dir, Region: "kr-central-1", Clock: clock, noSync: true})
	if err != nil {
		t.Fatal(err)
	}
	mustConfigure(t, e, testSpec("a", "x"), testSpec("b", "x"), testSpec("c", "x"))
	observe := func(sec float64, feature string, ok bool) {
		clock.Set(at(sec))
		e.Observe("talk", feature, "x", Observation{Start: at(sec), Success: ok, Error: "boom"})
	}
	observe(0, "a", false)
	observe(10, "a", true) // outage 1, written

	diskFull := error(&os.PathError{Op: "write", Path: filepath.Join(dir, "vigil.db"), Err: syscall.ENOSPC})
	boltOf(e).FailWrites(diskFull)
	observe(20, "a", false)
	observe(20, "b", false)
	observe(20, "c", false)
	observe(30, "a", true)
	observe(30, "c", true)
	if err := e.beat(false); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("heartbeat on a full disk: %v, want ENOSPC", err)
	}
	h := e.StoreHealth()
	if !h.Failing() || !h.Since.Equal(at(20)) || h.WriteErrors < 6 || h.Pending < 4 || !errors.Is(h.LastError, syscall.ENOSPC) {
		t.Fatalf("StoreHealth while failing = %+v, want failing since %s, >= 6 errors, >= 4 pending", h, at(20))
	}
	if e.Ready() {
		t.Error("Ready() while no write succeeds, want false")
	}
	inMemory := outageRecords(e)
	if len(inMemory) != 4 {
		t.Fatalf("outages in memory %+v, want 4", inMemory)
	}

	boltOf(e).FailWrites(nil) // space again
	clock.Set(at(40))
	if err := e.beat(false); err != nil {
		t.Fatalf("heartbeat with space again: %v", err)
	}
	if h2 := e.StoreHealth(); h2.Failing() || h2.Pending != 0 || h2.WriteErrors != h.WriteErrors {
		t.Fatalf("StoreHealth after recovery = %+v, want caught up with the error count kept at %d", h2, h.WriteErrors)
	}
	if !e.Ready() {
		t.Error("Ready() after the store caught up, want true")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	clock.Set(at(50))
	e, err = Open(Options{Path: dir, Region: "kr-central-1", Clock: clock, noSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if got := outageRecords(e); !slices.Equal(got, inMemory) {
		t.Fatalf("outages after restart:\n%+v\nwant as in memory before:\n%+v", got, inMemory)
	}
	tr, err := e.Transitions("talk", "b", t0, at(60))
	if err != nil || len(tr) != 1 || tr[0].To != StateDown || !tr[0].At.Equal(at(20)) {
		t.Errorf("transitions of b after restart: %+v, %v; want the one to down at 20s kept", tr, err)
	}
	observe(60, "b", true)
	observe(70, "b", false) // a new outage: a fresh ID
	ids := map[uint64]bool{}
	for _, o := range e.Outages(OutageQuery{}) {
		if ids[o.ID] || o.ID == 0 {
			t.Errorf("outage ID %d given twice or zero", o.ID)
		}
		ids[o.ID] = true
	}
}

// TestFullDiskTmpfs fills a real 512 KiB file system under the store: the
// writes that fail are counted and kept, the engine is not ready, and once
// space returns every outage is on disk, across a restart.
func TestFullDiskTmpfs(t *testing.T) {
	dir := mountTinyFS(t, "512k")
	clock := newFakeClock(t0)
	e, err := Open(Options{Path: dir, Region: "kr-central-1", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() }) // before the unmount
	var specs []FeatureSpec
	for i := range 20 {
		specs = append(specs, testSpec(fmt.Sprintf("f%02d", i), "x"))
	}
	mustConfigure(t, e, specs...)
	filler := fillDisk(t, dir)

	sec := 0.0
	flap := func() { // an outage opened or closed in every feature
		sec += 10
		clock.Set(at(sec))
		for i := range 20 {
			e.Observe("talk", fmt.Sprintf("f%02d", i), "x", Observation{Start: at(sec), Success: int(sec/10)%2 == 0, Error: "boom"})
		}
	}
	for i := 0; i < 200 && e.StoreHealth().WriteErrors == 0; i++ {
		flap()
	}
	if e.StoreHealth().WriteErrors == 0 {
		t.Fatal("no write failed with the file system full")
	}
	for range 6 {
		flap()
	}
	if err := e.beat(false); err == nil {
		t.Error("heartbeat on a full file system succeeded, want an error")
	}
	if h := e.StoreHealth(); !h.Failing() || h.Pending == 0 || !errors.Is(h.LastError, syscall.ENOSPC) || e.Ready() {
		t.Fatalf("StoreHealth on a full disk = %+v, ready %v; want failing with ENOSPC and records pending, not ready", h, e.Ready())
	}
	inMemory := outageRecords(e)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := e.beat(false); err != nil {
		t.Fatalf("heartbeat with space again: %v", err)
	}
	if h := e.StoreHealth(); h.Failing() || !e.Ready() {
		t.Fatalf("StoreHealth with space again = %+v, want caught up and ready", h)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e, err = Open(Options{Path: dir, Region: "kr-central-1", Clock: clock})
	if err != nil {
		t.Fatalf("reopen after the full disk: %v", err)
	}
	defer e.Close()
	if got := outageRecords(e); !slices.Equal(got, inMemory) {
		t.Fatalf("%d outages after restart, want the %d in memory before:\n%+v\n%+v", len(got), len(inMemory), got, inMemory)
	}
}

// mountTinyFS mounts a tmpfs of size on a temporary directory. It needs
// root: elsewhere the test is skipped loudly, or fails when CI=true.
func mountTinyFS(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		msg := fmt.Sprintf("cannot mount a %s tmpfs on %s (needs root): %v", size, dir, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED, NOT TESTED: " + msg)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillDisk writes a file in dir until the file system is full.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for range 1 << 12 { // at most 16 MiB
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return name
		}
	}
	t.Fatalf("%s never filled", dir)
	return ""
}
