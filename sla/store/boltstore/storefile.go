package boltstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/vigil-monitoring/vigil/sla/store"
)

// damaged marks err as the file's fault.
func damaged(err error) error { return store.Damaged(err) }

// openStore opens the store file with bbolt once it has checked what bbolt
// would not: that an existing file is not empty (bbolt would silently start
// a new history in it) and that its pages hold together (checkPages).
func openStore(file string, opts bbolt.Options) (db *bbolt.DB, err error) {
	if err := inspectStore(file, opts.ReadOnly, opts.Timeout); err != nil {
		return nil, err
	}
	err = guard(func() error {
		db, err = bbolt.Open(file, 0o600, &opts)
		return err
	})
	return db, err
}

// inspectStore checks an existing store file under the shared lock bbolt
// will take, so that a running agent's writes are not mistaken for damage
// (the agent's exclusive lock makes it wait, then fail with ErrTimeout).
func inspectStore(file string, readOnly bool, timeout time.Duration) error {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) && !readOnly {
		return nil // bbolt creates it
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := lockShared(f, timeout); err != nil {
		return err
	}
	st, err := f.Stat()
	switch {
	case err != nil:
		return err
	case !st.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", file)
	case st.Size() == 0:
		return errEmptyStore
	}
	if err := guard(func() error { return checkPages(f, st.Size()) }); err != nil {
		return damaged(err)
	}
	return nil
}

// lockShared takes a shared flock on f, polling as bbolt does, for at most
// timeout. Closing f releases it.
func lockShared(f *os.File, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		if time.Now().After(deadline) {
			return bolterrors.ErrTimeout
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// guard runs fn, which reads the mapped store file, and returns a panic of
// bbolt's, or a memory fault on a page the file lacks, as a damage error.
// checkPages refuses the files known to do that; this is the net under it.
// A panic inside bbolt.Open leaves its file handle open: the caller is
// about to exit.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = damaged(fmt.Errorf("bbolt: %v", r))
		}
	}()
	return fn()
}

// openError is an error whose text says what to do; it wraps the cause.
type openError struct {
	msg string
	err error
}

func (e *openError) Error() string { return e.msg }
func (e *openError) Unwrap() error { return e.err }

// OpenError explains why the store file (or directory) cannot be opened and
// what to do, wrapping err. The hint fits the cause: only a damaged or empty
// file is worth replacing, never a healthy one behind a permission or a
// read-only mount.
func OpenError(file string, readOnly bool, err error) error {
	var msg string
	switch {
	case errors.Is(err, errEmptyStore):
		msg = fmt.Sprintf("store %s is empty (0 bytes): it was probably cut off by a crash or a full disk; "+
			"restore it from a backup or delete it to start a new history", file)
	case errors.Is(err, bolterrors.ErrTimeout) && readOnly:
		msg = fmt.Sprintf("sla store %s is locked by a running agent; use /api/v1/report: %v", file, err)
	case errors.Is(err, bolterrors.ErrTimeout):
		msg = fmt.Sprintf("sla store %s is locked (another vigil running?): %v", file, err)
	case errors.Is(err, syscall.EROFS):
		msg = fmt.Sprintf("open store %s: the file system is mounted read-only (%v); "+
			"remount it read-write, or point --storage.path at a writable directory", file, err)
	case errors.Is(err, fs.ErrPermission):
		access := "read and write"
		if readOnly {
			access = "read"
		}
		msg = fmt.Sprintf("open store %s: permission denied (%v): vigil runs as %s; "+
			"give it %s access to the file and its directory (chown or chmod)", file, err, runningAs(), access)
	case errors.Is(err, syscall.ENOSPC):
		msg = fmt.Sprintf("open store %s: the disk is full (%v); free some space and start again (the file is unchanged)", file, err)
	case errors.Is(err, store.ErrDamaged) || errors.Is(err, bolterrors.ErrInvalid) ||
		errors.Is(err, bolterrors.ErrVersionMismatch) || errors.Is(err, bolterrors.ErrChecksum):
		msg = fmt.Sprintf("open store %s: file is damaged (%v); restore it from a backup, or move it aside to start a new history", file, err)
	default:
		msg = fmt.Sprintf("open store %s: %v", file, err)
	}
	return &openError{msg: msg, err: err}
}

// runningAs names the process's user for a permission hint.
func runningAs() string {
	uid := os.Getuid()
	if u, err := user.Current(); err == nil {
		return fmt.Sprintf("user %s (uid %d)", u.Username, uid)
	}
	return "uid " + strconv.Itoa(uid)
}
