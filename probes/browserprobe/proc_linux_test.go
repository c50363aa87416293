package browserprobe

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func TestNamesPath(t *testing.T) {
	tests := []struct {
		cmdline string
		want    bool
	}{
		{"chromium\x00--user-data-dir=/p/run-1\x00about:blank", true},
		{"chromium --type=renderer --user-data-dir=/p/run-1 --lang=en", true}, // a child's rewritten command line
		{"chromium\x00--user-data-dir=/p/run-1", true},
		{"crashpad --database=/p/run-1/config/chromium/Crash Reports", true},
		{"chromium\x00--user-data-dir=/p/run-12\x00about:blank", false},
		{"chromium --user-data-dir=/p/run-12 /p/run-1x", false},
		{"chromium --user-data-dir=/p/run-12 /p/run-1", true},
		{"", false},
	}
	for _, tt := range tests {
		if got := namesPath([]byte(tt.cmdline), "/p/run-1"); got != tt.want {
			t.Errorf("namesPath(%q, /p/run-1) = %v, want %v", tt.cmdline, got, tt.want)
		}
	}
}

func TestNewPoolRemovesStalePools(t *testing.T) {
	tmp := t.TempDir()
	// A pid that is gone: a process that has ended.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(tmp, poolDirPrefix+strconv.Itoa(gone.Process.Pid)+"-123")
	live := filepath.Join(tmp, poolDirPrefix+strconv.Itoa(os.Getpid())+"-456")
	other := filepath.Join(tmp, "vigil-browserish")
	for _, dir := range []string{filepath.Join(stale, "run-1"), live, other} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A process left using the stale pool's profile; "read" is a shell
	// builtin, so the shell is the only process.
	leftover := exec.Command("/bin/sh", "-c", "read line", filepath.Join(stale, "run-1"))
	stdin, err := leftover.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := leftover.Start(); err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	exited := make(chan error, 1)
	go func() { exited <- leftover.Wait() }()

	fake := filepath.Join(t.TempDir(), "chromium")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pool, err := NewPool(PoolOptions{Path: fake, TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := <-exited; err == nil || err.Error() != "signal: killed" {
		t.Errorf("process using the stale pool ended with %v, want killed", err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale pool directory still there (%v)", err)
	}
	for _, dir := range []string{live, other} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s removed: %v", dir, err)
		}
	}
}
