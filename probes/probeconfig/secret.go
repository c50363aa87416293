package probeconfig

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Secret is a string that is never shown: in logs, JSON, YAML output and errors it
// reads "<secret>". In YAML it may be "${NAME}" to take the value of environment
// variable NAME; an unset variable is an error.
type Secret string

const redacted = "<secret>"

// UnmarshalYAML implements yaml.Unmarshaler, expanding ${NAME}.
func (s *Secret) UnmarshalYAML(node *yaml.Node) error {
	var raw string
	if err := node.Decode(&raw); err != nil {
		return fmt.Errorf("secret must be a string")
	}
	v, err := ExpandEnv(raw)
	if err != nil {
		return err
	}
	*s = Secret(v)
	return nil
}

// String redacts the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// MarshalJSON redacts the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalYAML redacts the secret.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// Reveal returns the secret's value, for the one place that sends it.
func (s Secret) Reveal() string { return string(s) }

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// ExpandEnv replaces every ${NAME} in s by the environment variable's value; an
// unset variable is an error naming it (never its value).
func ExpandEnv(s string) (string, error) {
	var missing []string
	out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-1]
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	return out, nil
}

// ResolveSecret returns the secret from value, or from the file named by file
// (trailing newline trimmed). Both set is an error; key names the value's key.
// Kinds call it when a check is built, so a secret file is read once per
// build: a reload rebuilds the checks whose files changed (internal/config
// fingerprints the files' contents).
func ResolveSecret(key string, value Secret, file string) (Secret, error) {
	if value != "" && file != "" {
		return "", Errorf(key, "set only one of %s and %s_file", key, key)
	}
	if file == "" {
		return value, nil
	}
	b, err := ReadConfigFile(file)
	if err != nil {
		return "", Errorf(key+"_file", "cannot read secret file: %v", err)
	}
	return Secret(strings.TrimRight(string(b), "\r\n")), nil
}

// MaxConfigFileBytes bounds a file that a config names (a secret, a CA bundle,
// a client certificate, a request body): a mistyped path such as /dev/zero
// must fail, not fill memory.
const MaxConfigFileBytes = 4 << 20

// ReadConfigFile reads a file named by a config key: a regular file (a symlink
// to one is fine) of at most MaxConfigFileBytes. Devices and pipes are refused
// because reading them may never end. Errors name the path and the reason.
func ReadConfigFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, pathError(err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, pathError(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxConfigFileBytes+1))
	if err != nil {
		return nil, pathError(err)
	}
	if len(b) > MaxConfigFileBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, MaxConfigFileBytes>>20)
	}
	return b, nil
}

// pathError drops the Go wrapping of os errors but keeps the path and reason.
func pathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}
