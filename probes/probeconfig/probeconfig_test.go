package probeconfig

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-monitoring/vigil/internal/testpki"
)

// TestCAPoolShared: checks whose ca_file holds the same certificates share one
// pool (10,000 https checks of one CA keep one copy); another CA gets its own.
func TestCAPoolShared(t *testing.T) {
	dir := t.TempDir()
	a, b := testpki.NewCA(t, "ca-a").PEMFile, testpki.NewCA(t, "ca-b").PEMFile
	copyOfA := filepath.Join(dir, "copy.pem")
	data, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyOfA, data, 0o600); err != nil {
		t.Fatal(err)
	}
	build := func(file string) *x509.CertPool {
		t.Helper()
		cfg, err := (&TLSConfig{CAFile: file}).Build()
		if err != nil {
			t.Fatalf("Build(%s): %v", file, err)
		}
		if cfg.RootCAs == nil {
			t.Fatalf("Build(%s): no RootCAs", file)
		}
		return cfg.RootCAs
	}
	poolA := build(a)
	if build(a) != poolA || build(copyOfA) != poolA {
		t.Error("the same certificates gave another pool")
	}
	poolB := build(b)
	if poolB == poolA {
		t.Error("another CA got the first CA's pool")
	}
	if !poolA.Equal(build(copyOfA)) || poolA.Equal(poolB) {
		t.Error("pool contents wrong")
	}

	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (&TLSConfig{CAFile: bad}).Build(); err == nil {
		t.Error("a CA file without certificates was accepted")
	}
}

// TestReadConfigFileBounds: a file a config names is read only if it is a
// regular file of at most MaxConfigFileBytes (a mistyped /dev/zero must not
// fill memory, a FIFO must not hang a reload).
func TestReadConfigFileBounds(t *testing.T) {
	dir := t.TempDir()
	small, large := filepath.Join(dir, "small"), filepath.Join(dir, "large")
	if err := os.WriteFile(small, []byte("token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(large, make([]byte, MaxConfigFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, want string }{
		{small, ""},
		{large, large + ": larger than 4 MiB"},
		{"/dev/zero", "/dev/zero: not a regular file"},
		{filepath.Join(dir, "missing"), filepath.Join(dir, "missing") + ": no such file or directory"},
	}
	for _, tt := range tests {
		b, err := ReadConfigFile(tt.path)
		switch {
		case tt.want == "" && (err != nil || string(b) != "token\n"):
			t.Errorf("ReadConfigFile(%s) = %q, %v", tt.path, b, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("ReadConfigFile(%s) error = %v, want %s", tt.path, err, tt.want)
		}
	}
	if _, err := ResolveSecret("bearer_token", "", "/dev/zero"); err == nil || err.Error() != "bearer_token_file: cannot read secret file: /dev/zero: not a regular file" {
		t.Errorf("ResolveSecret from /dev/zero: %v", err)
	}
}
