package probeconfig

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError is a validation error of one config key. Path is relative to the
// probe's config block, with dots and indexes: "tls_config.ca_file",
// "fail_if_body_matches_regexp[1]". The config package turns it into
// "file:line: key: message". Several are joined with errors.Join.
type FieldError struct {
	Path string
	Err  error
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

// Errorf returns a *FieldError for path.
func Errorf(path, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Err: fmt.Errorf(format, args...)}
}

// Prefix returns err with every FieldError path in it prefixed by prefix (joined
// with a dot), so nested blocks can report paths relative to their parent.
// Joined errors (errors.Join) are prefixed one by one.
func Prefix(prefix string, err error) error {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, Prefix(prefix, e))
		}
		return errors.Join(out...)
	}
	if fe, ok := err.(*FieldError); ok {
		p := prefix
		if fe.Path != "" {
			if strings.HasPrefix(fe.Path, "[") {
				p += fe.Path
			} else {
				p += "." + fe.Path
			}
		}
		return &FieldError{Path: p, Err: fe.Err}
	}
	return &FieldError{Path: prefix, Err: err}
}
