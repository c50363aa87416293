package boltstore

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"
)

// TestStoreOpenErrorHints: the hint fits the cause; only a damaged or empty
// file is to be replaced.
func TestStoreOpenErrorHints(t *testing.T) {
	const file = "data/vigil.db"
	pathErr := func(errno syscall.Errno) error { return &fs.PathError{Op: "open", Path: file, Err: errno} }
	tests := []struct {
		name     string
		err      error
		readOnly bool
		want     string
	}{
		{"permission", pathErr(syscall.EACCES), false, "open store data/vigil.db: permission denied (open data/vigil.db: permission denied): vigil runs as "},
		{"permission, report", pathErr(syscall.EPERM), true, "give it read access to the file and its directory (chown or chmod)"},
		{"read-only mount", pathErr(syscall.EROFS), false, "the file system is mounted read-only (open data/vigil.db: read-only file system); remount it read-write"},
		{"disk full", pathErr(syscall.ENOSPC), false, "open store data/vigil.db: the disk is full"},
		{"damaged", damaged(errors.New("page 3: header says page 0")), false, "open store data/vigil.db: file is damaged (page 3: header says page 0); restore it from a backup, or move it aside"},
		{"empty", errEmptyStore, false, "store data/vigil.db is empty (0 bytes)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := OpenError(file, tc.readOnly, tc.err)
			if !strings.Contains(err.Error(), tc.want) || !errors.Is(err, tc.err) {
				t.Errorf("%q, want it to contain %q and wrap the cause", err, tc.want)
			}
			replace := strings.Contains(err.Error(), "move it aside") || strings.Contains(err.Error(), "delete it")
			if isDamage := tc.name == "damaged" || tc.name == "empty"; replace != isDamage {
				t.Errorf("%q: hint to replace the file is %v, want %v", err, replace, isDamage)
			}
		})
	}
}
