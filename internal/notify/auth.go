package notify

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// Authorizer decides whether a request may write. It returns nil, or an
// *AuthError saying why not and with which status.
type Authorizer interface {
	AuthorizeWrite(r *http.Request) error
}

// AuthError is a refused write: 401 without valid credentials, 403 with
// credentials that may not write.
type AuthError struct {
	Status int
	Msg    string
}

func (e *AuthError) Error() string { return e.Msg }

// WriteAuth is the agent's Authorizer: a bearer token read from
// web.write_token_file, or a basic-auth user of --web.config.file named in
// web.writers. The other users of that file may read, not write.
type WriteAuth struct {
	tokenHash [32]byte
	hasToken  bool
	// users are the web config's basic_auth_users (bcrypt hashes).
	users   map[string]string
	writers []string
	// decoy is a bcrypt hash at the users' cost that no password matches,
	// compared against for an unknown user so that timing does not tell
	// users apart.
	decoy []byte
}

// NewWriteAuth reads the token file (""; no token) and the
// exporter-toolkit web config file ("": none), and checks that every
// writer is a user of it.
func NewWriteAuth(tokenFile, webConfigFile string, writers []string) (*WriteAuth, error) {
	a := &WriteAuth{writers: writers}
	if tokenFile != "" {
		b, err := probeconfig.ReadConfigFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("web.write_token_file: %w", err)
		}
		token := strings.TrimSpace(string(b))
		if len(token) < 16 {
			return nil, fmt.Errorf("web.write_token_file %s: the token must be at least 16 characters", tokenFile)
		}
		a.tokenHash, a.hasToken = sha256.Sum256([]byte(token)), true
	}
	if len(writers) == 0 {
		return a, nil
	}
	if webConfigFile == "" {
		return nil, errors.New("web.writers names users of --web.config.file's basic_auth_users, but no --web.config.file is given")
	}
	b, err := probeconfig.ReadConfigFile(webConfigFile)
	if err != nil {
		return nil, fmt.Errorf("--web.config.file: %w", err)
	}
	var wc struct {
		Users map[string]string `yaml:"basic_auth_users"`
	}
	if err := yaml.Unmarshal(b, &wc); err != nil {
		return nil, fmt.Errorf("--web.config.file %s: %w", webConfigFile, err)
	}
	for _, w := range writers {
		if _, ok := wc.Users[w]; !ok {
			return nil, fmt.Errorf("web.writers: %q is not a user of basic_auth_users in %s", w, webConfigFile)
		}
	}
	a.users = wc.Users
	cost, err := bcrypt.Cost([]byte(wc.Users[writers[0]]))
	if err != nil {
		return nil, fmt.Errorf("--web.config.file %s: user %q: %w", webConfigFile, writers[0], err)
	}
	if a.decoy, err = bcrypt.GenerateFromPassword([]byte(randomID("decoy")), cost); err != nil {
		return nil, fmt.Errorf("web.writers: %w", err)
	}
	return a, nil
}

// AuthorizeWrite implements Authorizer.
func (a *WriteAuth) AuthorizeWrite(r *http.Request) error {
	if !a.hasToken && len(a.writers) == 0 {
		return &AuthError{http.StatusForbidden, "writes are disabled: set web.write_token_file or web.writers in the agent's config"}
	}
	header := r.Header.Get("Authorization")
	if header == "" {
		return &AuthError{http.StatusUnauthorized, "this endpoint writes: send Authorization: Bearer <token> (web.write_token_file) or the basic auth of a user in web.writers"}
	}
	if token, ok := strings.CutPrefix(header, "Bearer "); ok {
		h := sha256.Sum256([]byte(strings.TrimSpace(token)))
		if !a.hasToken || subtle.ConstantTimeCompare(h[:], a.tokenHash[:]) != 1 {
			return &AuthError{http.StatusUnauthorized, "the bearer token is not valid"}
		}
		return nil
	}
	user, password, ok := r.BasicAuth()
	if !ok {
		return &AuthError{http.StatusUnauthorized, "Authorization must be Bearer or Basic"}
	}
	if a.users == nil {
		return &AuthError{http.StatusUnauthorized, "user name or password is not valid (no user may write: web.writers is empty)"}
	}
	hash, known := a.users[user]
	if !known {
		hash = string(a.decoy)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil || !known {
		return &AuthError{http.StatusUnauthorized, "user name or password is not valid"}
	}
	if !slices.Contains(a.writers, user) {
		return &AuthError{http.StatusForbidden, fmt.Sprintf("user %q may read but not write (not in web.writers)", user)}
	}
	return nil
}
