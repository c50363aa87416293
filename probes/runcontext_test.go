package probes

import (
	"context"
	"runtime"
	"testing"
	"testing/synctest"
	"time"
)

type testKey struct{}

func TestCanceledOnlyByDeadline(t *testing.T) {
	run, end := NewRunContext(time.Now().Add(time.Minute))
	defer end()
	derived, cancel := context.WithCancel(run)
	defer cancel()
	timed, cancelTimed := context.WithTimeout(context.Background(), time.Minute)
	defer cancelTimed()
	tests := []struct {
		name string
		ctx  context.Context
		want bool
	}{
		{"a run's context", run, true},
		{"a context derived from a run's", derived, false},
		{"a value on a run's", context.WithValue(run, testKey{}, 1), false},
		{"context.WithTimeout's", timed, false},
	}
	for _, tt := range tests {
		if got := CanceledOnlyByDeadline(tt.ctx); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestRunContextKeepsTheContextContract: done at the deadline with
// DeadlineExceeded whether or not anyone waited, or at its end with
// Canceled; contexts derived from it and context.AfterFunc follow it.
func TestRunContextKeepsTheContextContract(t *testing.T) {
	t.Run("unwatched deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, end := NewRunContext(time.Now().Add(time.Second))
			defer end()
			if d, ok := ctx.Deadline(); !ok || !d.Equal(time.Now().Add(time.Second)) {
				t.Errorf("Deadline() = %v, %v", d, ok)
			}
			if err := ctx.Err(); err != nil {
				t.Errorf("Err() before the deadline = %v", err)
			}
			time.Sleep(time.Second)
			if err := ctx.Err(); err != context.DeadlineExceeded {
				t.Errorf("Err() at the deadline = %v, want DeadlineExceeded", err)
			}
			select {
			case <-ctx.Done():
			default:
				t.Error("Done() asked after the deadline is not closed")
			}
		})
	})
	t.Run("watched deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			ctx, end := NewRunContext(start.Add(80 * time.Millisecond))
			defer end()
			goroutines := runtime.NumGoroutine()
			child, cancel := context.WithCancel(ctx)
			defer cancel()
			if n := runtime.NumGoroutine(); n != goroutines {
				t.Errorf("a derived context started %d goroutines, want none (AfterFunc)", n-goroutines)
			}
			fired := make(chan time.Time, 1)
			context.AfterFunc(ctx, func() { fired <- time.Now() })
			stopped := context.AfterFunc(ctx, func() { t.Error("a stopped AfterFunc ran") })
			if !stopped() {
				t.Error("stop of a waiting AfterFunc returned false")
			}
			<-ctx.Done()
			if took := time.Since(start); took != 80*time.Millisecond {
				t.Errorf("done after %v, want 80ms", took)
			}
			if err := ctx.Err(); err != context.DeadlineExceeded {
				t.Errorf("Err() = %v, want DeadlineExceeded", err)
			}
			<-child.Done()
			if err := child.Err(); err != context.DeadlineExceeded {
				t.Errorf("derived Err() = %v, want DeadlineExceeded", err)
			}
			if at := <-fired; !at.Equal(start.Add(80 * time.Millisecond)) {
				t.Errorf("AfterFunc ran at +%v, want +80ms", at.Sub(start))
			}
			end() // after the deadline: changes nothing
			if err := ctx.Err(); err != context.DeadlineExceeded {
				t.Errorf("Err() after end = %v, want DeadlineExceeded", err)
			}
		})
	})
	t.Run("ended before the deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, end := NewRunContext(time.Now().Add(time.Minute))
			child, cancel := context.WithTimeout(ctx, time.Hour)
			defer cancel()
			if d, _ := child.Deadline(); !d.Equal(time.Now().Add(time.Minute)) {
				t.Errorf("derived deadline %v, want the run's", d)
			}
			done := ctx.Done()
			end()
			<-done
			<-child.Done()
			if ctx.Err() != context.Canceled || child.Err() != context.Canceled {
				t.Errorf("Err() = %v, derived %v; want Canceled", ctx.Err(), child.Err())
			}
			synctest.Wait() // the deadline's timer is stopped: the bubble ends at once
		})
	})
	t.Run("ended unwatched", func(t *testing.T) {
		ctx, end := NewRunContext(time.Now().Add(time.Minute))
		end()
		if err := ctx.Err(); err != context.Canceled {
			t.Errorf("Err() = %v, want Canceled", err)
		}
		select {
		case <-ctx.Done():
		default:
			t.Error("Done() of an ended context is not closed")
		}
		fired := make(chan struct{})
		context.AfterFunc(ctx, func() { close(fired) })
		<-fired
	})
}
