package httpprobe

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-monitoring/vigil/probes"
)

// TestNewTakesTheValidatedPlan: New takes the plan ValidateAndKeep built,
// once; the next New, and a New after Forget, build their own.
func TestNewTakesTheValidatedPlan(t *testing.T) {
	body := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(body, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{URL: "http://127.0.0.1:9/", Method: "POST", BodyFile: body}
	if err := cfg.ValidateAndKeep(); err != nil {
		t.Fatal(err)
	}
	kept := cfg.kept
	first, err := New(cfg, probes.Options{CheckID: testCheckID})
	if err != nil {
		t.Fatal(err)
	}
	if first.plan != kept || cfg.kept != nil {
		t.Fatalf("New built plan %p, want the kept %p taken (left %p)", first.plan, kept, cfg.kept)
	}

	// Built again, the plan reads the file again.
	if err := os.WriteFile(body, []byte("second"), 0o600); err != nil {
		t.Fatal(err)
	}
	second, err := New(cfg, probes.Options{CheckID: testCheckID})
	if err != nil {
		t.Fatal(err)
	}
	if second.plan == first.plan || string(second.plan.body) != "second" || string(first.plan.body) != "first" {
		t.Errorf("second New: plan %p body %q, first %p body %q", second.plan, second.plan.body, first.plan, first.plan.body)
	}

	if err := cfg.ValidateAndKeep(); err != nil {
		t.Fatal(err)
	}
	cfg.Forget()
	if cfg.kept != nil {
		t.Fatal("Forget kept the plan")
	}
	third, err := New(cfg, probes.Options{CheckID: testCheckID})
	if err != nil {
		t.Fatal(err)
	}
	if third.plan == nil || third.plan == second.plan {
		t.Errorf("New after Forget: plan %p", third.plan)
	}
}

// TestValidateAndKeepKeepsNothingInvalid: an invalid block keeps no plan.
func TestValidateAndKeepKeepsNothingInvalid(t *testing.T) {
	cfg := &Config{URL: "ftp://127.0.0.1/"}
	if err := cfg.ValidateAndKeep(); err == nil {
		t.Fatal("ftp URL validated")
	}
	if cfg.kept != nil {
		t.Fatal("an invalid block kept a plan")
	}
}
