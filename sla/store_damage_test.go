package sla

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// writeStore writes a real store with outages in dir, closed cleanly, and
// returns its file's bytes.
func writeStore(t testing.TB, dir string, features int) []byte {
	t.Helper()
	clock := newFakeClock(t0)
	e, err := Open(Options{Path: dir, Region: "kr-central-1", Clock: clock, noSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var specs []FeatureSpec
	for i := range features {
		specs = append(specs, testSpec(fmt.Sprintf("feature-with-a-long-name-%03d", i), "x"))
	}
	mustConfigure(t, e, specs...)
	for sec := 0.0; sec < 60; sec += 10 {
		clock.Set(at(sec))
		for _, s := range specs {
			e.Observe("talk", s.Feature, "x", Observation{Start: at(sec), Success: int(sec/10)%2 == 1, Error: "connection refused"})
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, storeFile))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestOpenDamagedStore: page headers overwritten, a file cut in half, a
// freelist page that is not one: Open and OpenReadOnly return an error that
// says the file is damaged and what to do, never panic, and leave the file
// as it was.
func TestOpenDamagedStore(t *testing.T) {
	good := writeStore(t, t.TempDir(), 60)
	m := readStoreMeta(t, good)
	ps := int(m.pageSize)
	if int(m.pgid)*ps <= len(good)/2 {
		t.Fatalf("store of %d pages of %d bytes in %d bytes: cutting it in half would lose nothing", m.pgid, ps, len(good))
	}
	tests := []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"page headers of pages 2 and 3 zeroed", func(b []byte) []byte {
			clear(b[2*ps : 2*ps+pageHeaderSize])
			clear(b[3*ps : 3*ps+pageHeaderSize])
			return b
		}},
		{"cut in half", func(b []byte) []byte { return b[:len(b)/2] }},
		{"freelist page marked a leaf", func(b []byte) []byte {
			native.PutUint16(b[int(m.freelist)*ps+8:], leafPage)
			return b
		}},
		{"root page made a freelist", func(b []byte) []byte {
			native.PutUint16(b[int(m.root)*ps+8:], freelistPage)
			return b
		}},
		{"both meta pages zeroed", func(b []byte) []byte {
			clear(b[:2*ps])
			return b
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, storeFile)
			damaged := tc.damage(bytes.Clone(good))
			if err := os.WriteFile(file, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, open := range []struct {
				name string
				fn   func() (*Engine, error)
			}{
				{"Open", func() (*Engine, error) { return Open(Options{Path: dir, noSync: true}) }},
				{"OpenReadOnly", func() (*Engine, error) { return OpenReadOnly(dir) }},
			} {
				e, err := open.fn()
				if err == nil {
					e.Close()
					t.Fatalf("%s of a damaged store succeeded", open.name)
				}
				want := "open store " + file + ": file is damaged ("
				if !strings.HasPrefix(err.Error(), want) || !errors.Is(err, ErrStoreDamaged) ||
					!strings.HasSuffix(err.Error(), "); restore it from a backup, or move it aside to start a new history") {
					t.Errorf("%s: %q, want %q... and the hint", open.name, err, want)
				}
			}
			if after, _ := os.ReadFile(file); !bytes.Equal(after, damaged) {
				t.Error("opening the damaged store changed it")
			}
		})
	}
}

// TestOpenEmptyStore: an existing 0-byte store is an error, not a new history.
func TestOpenEmptyStore(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, storeFile)
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	want := "store " + file + " is empty (0 bytes): it was probably cut off by a crash or a full disk; " +
		"restore it from a backup or delete it to start a new history"
	if e, err := Open(Options{Path: dir, noSync: true}); err == nil || err.Error() != want {
		if e != nil {
			e.Close()
		}
		t.Errorf("Open: %v\nwant %s", err, want)
	}
	if _, err := OpenReadOnly(dir); err == nil || err.Error() != want {
		t.Errorf("OpenReadOnly: %v\nwant %s", err, want)
	}
	if st, err := os.Stat(file); err != nil || st.Size() != 0 {
		t.Errorf("the empty store was written to: %v, %v", st, err)
	}
}

// TestOpenOnReadOnlyMount: a real read-only file system gets the mount
// hint from Open, and `vigil report` (OpenReadOnly) still reads the store.
func TestOpenOnReadOnlyMount(t *testing.T) {
	dir := mountTinyFS(t, "1m")
	writeStore(t, dir, 3)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, "size=1m"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(Options{Path: dir, noSync: true})
	if err == nil || !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), "mounted read-only") ||
		strings.Contains(err.Error(), "move it aside") {
		t.Fatalf("Open on a read-only mount: %v", err)
	}
	e, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatalf("OpenReadOnly on a read-only mount: %v", err)
	}
	defer e.Close()
	if n := len(e.Outages(OutageQuery{})); n != 9 {
		t.Errorf("%d outages read, want 9", n)
	}
}

// FuzzOpenDamaged overwrites bytes of a real store and cuts it: Open and
// OpenReadOnly return an error or an engine that works, never panic.
func FuzzOpenDamaged(f *testing.F) {
	good := writeStore(f, f.TempDir(), 20)
	ps := os.Getpagesize()
	// edits: (offset high, offset low, value) triples; cut: keep cut/65536 of the file (0: all).
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{}, uint16(32768))
	f.Add([]byte{byte(2 * ps >> 8), 0, 0, byte(2 * ps >> 8), 8, 0, byte(3 * ps >> 8), 0, 0}, uint16(0))
	f.Add([]byte{byte(2 * ps >> 8), 8, 0x10, byte(3 * ps >> 8), 10, 0xff, byte(3 * ps >> 8), 11, 0xff}, uint16(0))
	f.Add([]byte{byte(4 * ps >> 8), 16 + 8, 3, byte(5 * ps >> 8), 16 + 12, 0x7f}, uint16(50000))
	f.Fuzz(func(t *testing.T, edits []byte, cut uint16) {
		data := bytes.Clone(good)
		for i := 0; i+2 < len(edits); i += 3 {
			data[(int(edits[i])<<8|int(edits[i+1]))%len(data)] = edits[i+2]
		}
		if cut != 0 {
			data = data[:len(data)*int(cut)/65536]
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, storeFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if e, err := OpenReadOnly(dir); err == nil {
			e.Report(t0, at(3600))
			e.Outages(OutageQuery{})
			e.Close()
		}
		clock := newFakeClock(at(3600))
		e, err := Open(Options{Path: dir, Region: "kr-central-1", Clock: clock, noSync: true})
		if err != nil {
			return
		}
		defer e.Close()
		if err := e.Configure([]FeatureSpec{testSpec("fuzz", "x"), testSpec("feature-with-a-long-name-000", "x")}); err != nil {
			return // a store bbolt reads but the engine refuses to write to (e.g. a bucket replaced by a key)
		}
		for i, ok := range []bool{false, true, false} {
			clock.Set(at(3600 + float64(10*i)))
			e.Observe("talk", "fuzz", "x", Observation{Start: clock.Now(), Success: ok})
			e.Observe("talk", "feature-with-a-long-name-000", "x", Observation{Start: clock.Now(), Success: ok})
		}
		e.Features()
		if err := e.beat(false); err != nil {
			t.Logf("heartbeat: %v", err)
		}
	})
}

// The bbolt page layout the damage cases need (boltstore/storecheck.go reads
// the same).
const (
	pageHeaderSize = 16
	leafPage       = 0x02
	freelistPage   = 0x10
)

var native = binary.NativeEndian

// storeMeta is what a test needs of the meta page bbolt will use.
type storeMeta struct {
	pageSize             uint32
	root, freelist, pgid uint64
}

// readStoreMeta reads the meta page with the higher transaction id.
func readStoreMeta(t *testing.T, b []byte) storeMeta {
	t.Helper()
	at := func(pos int) (storeMeta, uint64) {
		m := b[pos+pageHeaderSize:]
		return storeMeta{pageSize: native.Uint32(m[8:]), root: native.Uint64(m[16:]), freelist: native.Uint64(m[32:]),
			pgid: native.Uint64(m[40:])}, native.Uint64(m[48:])
	}
	m0, tx0 := at(0)
	if m0.pageSize < 512 || int(m0.pageSize) > len(b) {
		t.Fatalf("meta page 0: page size %d", m0.pageSize)
	}
	if m1, tx1 := at(int(m0.pageSize)); tx1 > tx0 {
		return m1
	}
	return m0
}
