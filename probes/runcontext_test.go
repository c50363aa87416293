package probes

import (
	"context"
	"testing"
	"time"
)

type testKey struct{}

func TestCanceledOnlyByDeadline(t *testing.T) {
	timed, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := RunContext(timed)
	derived, cancelDerived := context.WithCancel(run)
	defer cancelDerived()
	tests := []struct {
		name string
		ctx  context.Context
		want bool
	}{
		{"a run's context", run, true},
		{"the context it marks", timed, false},
		{"a context derived from a run's", derived, false},
		{"a value on a run's", context.WithValue(run, testKey{}, 1), false},
		{"a run's without deadline", RunContext(context.Background()), false},
	}
	for _, tt := range tests {
		if got := CanceledOnlyByDeadline(tt.ctx); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	// It is the context it marks for everything else: a derived context is
	// canceled with it, and context.AfterFunc still works.
	fired := make(chan struct{})
	context.AfterFunc(run, func() { close(fired) })
	cancel()
	<-fired
	<-derived.Done()
	if run.Err() != context.Canceled {
		t.Errorf("Err() = %v after cancel, want context.Canceled", run.Err())
	}
}
