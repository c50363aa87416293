package httpprobe

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// Defaults of the keys whose zero value is not the default.
const (
	defaultMethod        = http.MethodGet
	defaultMaxRedirects  = 10
	defaultBodySizeLimit = 10 << 20 // 10 MiB
	// defaultMaxHeaderBytes is net/http's http.DefaultMaxHeaderBytes.
	defaultMaxHeaderBytes = 1 << 20 // 1 MiB
	defaultIPProtocol     = "ip4"
	userAgent             = "Vigil-Probe/1"
)

// Config is the `http` block of a check. Keys are blackbox_exporter's where the
// meaning is the same. The keys whose default is not their zero value are
// pointers (follow_redirects, max_redirects, ip_protocol_fallback) so that an
// explicit false or 0 is told apart from an absent key.
type Config struct {
	// URL is the target, http:// or https://. Required. Credentials in it are
	// refused: use basic_auth, which is kept secret.
	URL string `yaml:"url" json:"url"`
	// Method is the request method; default GET.
	Method string `yaml:"method,omitempty" json:"method,omitempty"`
	// Headers are sent with every request. A "Host" entry sets the Host header
	// (and, for https without tls_config.server_name, the TLS server name).
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// Body is the request body; BodyFile names a file holding it (read once, at
	// load). Set at most one.
	Body     string `yaml:"body,omitempty" json:"body,omitempty"`
	BodyFile string `yaml:"body_file,omitempty" json:"body_file,omitempty"`

	// ValidStatusCodes lists the accepted status codes; default any 2xx.
	ValidStatusCodes []int `yaml:"valid_status_codes,omitempty" json:"valid_status_codes,omitempty"`
	// ValidHTTPVersions lists the accepted protocol versions of the final
	// response ("HTTP/1.0", "HTTP/1.1", "HTTP/2.0"); default any.
	ValidHTTPVersions []string `yaml:"valid_http_versions,omitempty" json:"valid_http_versions,omitempty"`
	// FailIfSSL fails the run when the final response came over TLS;
	// FailIfNotSSL when it did not.
	FailIfSSL    bool `yaml:"fail_if_ssl,omitempty" json:"fail_if_ssl,omitempty"`
	FailIfNotSSL bool `yaml:"fail_if_not_ssl,omitempty" json:"fail_if_not_ssl,omitempty"`
	// FailIfBodyMatchesRegexp fails the run when any pattern matches the body;
	// FailIfBodyNotMatchesRegexp when any pattern does not.
	FailIfBodyMatchesRegexp    []probeconfig.Regexp `yaml:"fail_if_body_matches_regexp,omitempty" json:"fail_if_body_matches_regexp,omitempty"`
	FailIfBodyNotMatchesRegexp []probeconfig.Regexp `yaml:"fail_if_body_not_matches_regexp,omitempty" json:"fail_if_body_not_matches_regexp,omitempty"`
	// FailIfHeaderMatches fails the run when a value of the header matches;
	// FailIfHeaderNotMatches when no value of the header matches.
	FailIfHeaderMatches    []HeaderMatch `yaml:"fail_if_header_matches,omitempty" json:"fail_if_header_matches,omitempty"`
	FailIfHeaderNotMatches []HeaderMatch `yaml:"fail_if_header_not_matches,omitempty" json:"fail_if_header_not_matches,omitempty"`

	// FollowRedirects follows 301, 302, 303, 307 and 308; default true.
	FollowRedirects *bool `yaml:"follow_redirects,omitempty" json:"follow_redirects,omitempty"`
	// MaxRedirects is how many redirects one run follows before failing;
	// default 10. 0 fails on any redirect.
	MaxRedirects *int `yaml:"max_redirects,omitempty" json:"max_redirects,omitempty"`
	// BodySizeLimit is the most body bytes (after decompression) a run reads; a
	// longer body fails the run. 0 means the default, 10 MiB: a probe never
	// reads an unbounded body.
	BodySizeLimit int64 `yaml:"body_size_limit,omitempty" json:"body_size_limit,omitempty"`
	// MaxResponseHeaderBytes is the most bytes a response's status line and
	// headers may take (each 1xx response's and the final one's); more fails
	// the run. 0 means the default, 1 MiB as net/http's: a target that sends
	// an endless header costs the agent no more than that.
	MaxResponseHeaderBytes int64 `yaml:"max_response_header_bytes,omitempty" json:"max_response_header_bytes,omitempty"`
	// Compression is "", "identity", "gzip" or "deflate". When set, the request
	// asks for it (Accept-Encoding) and the body is decoded with it whatever the
	// response says, as blackbox_exporter does: a body that does not decode
	// fails the run.
	Compression string `yaml:"compression,omitempty" json:"compression,omitempty"`

	// BasicAuth and BearerToken (or BearerTokenFile) set Authorization; at most
	// one of them. Secret files are read at load: reload the config to pick up
	// a rotated one.
	BasicAuth       *BasicAuth         `yaml:"basic_auth,omitempty" json:"basic_auth,omitempty"`
	BearerToken     probeconfig.Secret `yaml:"bearer_token,omitempty" json:"bearer_token,omitempty"`
	BearerTokenFile string             `yaml:"bearer_token_file,omitempty" json:"bearer_token_file,omitempty"`
	// Authorization sets Authorization to "type credentials" (type default
	// Bearer); OAuth2 sends a token got by the client-credentials grant. With
	// basic_auth and bearer_token, at most one of the four; client.go.
	Authorization *Authorization `yaml:"authorization,omitempty" json:"authorization,omitempty"`
	OAuth2        *OAuth2        `yaml:"oauth2,omitempty" json:"oauth2,omitempty"`

	// TLSConfig applies to https targets (and an https proxy).
	TLSConfig probeconfig.TLSConfig `yaml:"tls_config,omitempty" json:"tls_config,omitempty"`
	// ProxyURL sends requests through an http, https or socks5 proxy. The
	// target's name is then resolved by the proxy, never here.
	ProxyURL string `yaml:"proxy_url,omitempty" json:"proxy_url,omitempty"`
	// NoProxy lists the hosts, domains and CIDRs that bypass proxy_url
	// (NO_PROXY's syntax); ProxyFromEnvironment takes the proxy from
	// HTTP_PROXY, HTTPS_PROXY and NO_PROXY as the agent was started with;
	// ProxyConnectHeader is sent to the proxy with CONNECT (https targets),
	// its values secret. prometheus/common's ProxyConfig chooses the proxy.
	NoProxy              string                          `yaml:"no_proxy,omitempty" json:"no_proxy,omitempty"`
	ProxyFromEnvironment bool                            `yaml:"proxy_from_environment,omitempty" json:"proxy_from_environment,omitempty"`
	ProxyConnectHeader   map[string][]probeconfig.Secret `yaml:"proxy_connect_header,omitempty" json:"proxy_connect_header,omitempty"`
	// EnableHTTP2, default true, lets an https target answer over HTTP/2;
	// false keeps every request HTTP/1.1.
	EnableHTTP2 *bool `yaml:"enable_http2,omitempty" json:"enable_http2,omitempty"`
	// PreferredIPProtocol is "ip4" (default; blackbox_exporter's is ip6) or
	// "ip6": the address family used when the name has addresses of both.
	PreferredIPProtocol string `yaml:"preferred_ip_protocol,omitempty" json:"preferred_ip_protocol,omitempty"`
	// IPProtocolFallback, default true, uses the other family when the name
	// has no address of the preferred one. Like blackbox_exporter, it does not
	// retry the other family when a connection fails.
	IPProtocolFallback *bool `yaml:"ip_protocol_fallback,omitempty" json:"ip_protocol_fallback,omitempty"`

	// kept is the plan ValidateAndKeep built, for New to take (planned.go).
	kept *plan
}

// BasicAuth is the basic_auth block.
type BasicAuth struct {
	Username     string             `yaml:"username" json:"username"`
	Password     probeconfig.Secret `yaml:"password,omitempty" json:"password,omitempty"`
	PasswordFile string             `yaml:"password_file,omitempty" json:"password_file,omitempty"`
}

// HeaderMatch is one entry of fail_if_header_matches or
// fail_if_header_not_matches. AllowMissing makes an absent header pass.
type HeaderMatch struct {
	Header       string             `yaml:"header" json:"header"`
	Regexp       probeconfig.Regexp `yaml:"regexp" json:"regexp"`
	AllowMissing bool               `yaml:"allow_missing,omitempty" json:"allow_missing,omitempty"`
}

// headerRule is a HeaderMatch ready for the hot path.
type headerRule struct {
	key          string // canonical header key
	name         string // as configured, for error texts
	re           *regexp.Regexp
	allowMissing bool
}

// plan is a Config resolved once: defaults applied, files read, regexps and
// headers prepared, so that a run only reads it.
type plan struct {
	url             *url.URL
	method          string
	host            string // Host header override, "" for the URL's host
	header          http.Header
	crossHostHeader http.Header // header without credentials, for redirects to another host
	body            []byte

	validStatusCodes []int
	rules            *responseRules // nil when none is set, as for most checks

	maxRedirects   int
	bodySizeLimit  int64
	maxHeaderBytes int64
	compression    string

	tlsConfig  *tls.Config
	client     *clientPlan // nil unless a key of client.go is set
	ipProtocol string      // "ip4" or "ip6"

	// The flags are together: apart, each would take 8 bytes.
	failIfSSL          bool
	failIfNotSSL       bool
	followRedirects    bool
	ipProtocolFallback bool
	// viaTransport sends even plain-http requests through the transport: a
	// proxy or oauth2 needs it.
	viaTransport bool
}

// responseRules are the rarely set checks on a response: versions, and
// regexps on the body and headers. Apart from plan, they cost a check that
// sets none 8 bytes, not 120 (an agent holds a plan per check).
type responseRules struct {
	validHTTPVersions []string
	bodyMatch         []*regexp.Regexp
	bodyNotMatch      []*regexp.Regexp
	headerMatch       []headerRule
	headerNotMatch    []headerRule
}

// noRules are a plan's rules when it sets none.
var noRules responseRules

// responseRules returns p's rules, noRules when it sets none.
func (p *plan) responseRules() *responseRules {
	if p.rules == nil {
		return &noRules
	}
	return p.rules
}

var (
	compressions  = []string{"", "identity", "gzip", "deflate"}
	httpVersions  = []string{"HTTP/1.0", "HTTP/1.1", "HTTP/2.0"}
	proxySchemes  = []string{"http", "https", "socks5", "socks5h"}
	ipProtocols   = []string{"", "ip4", "ip6"}
	credentialKey = []string{"Authorization", "Proxy-Authorization", "Cookie", "Cookie2", "Www-Authenticate"}
)

// Validate checks the block, reading the files it names (CA, client
// certificate, secrets, body). Errors are probeconfig.FieldErrors relative to the
// block, joined with errors.Join.
func (c *Config) Validate() error {
	_, err := c.plan()
	return err
}

// plan validates c and resolves it. Every problem is reported, not only the
// first, so that one `vigil --config.check` shows them all.
func (c *Config) plan() (*plan, error) {
	p := &plan{
		method:           c.Method,
		validStatusCodes: c.ValidStatusCodes,
		failIfSSL:        c.FailIfSSL,
		failIfNotSSL:     c.FailIfNotSSL,
		followRedirects:  c.FollowRedirects == nil || *c.FollowRedirects,
		maxRedirects:     defaultMaxRedirects,
		bodySizeLimit:    c.BodySizeLimit,
		maxHeaderBytes:   c.MaxResponseHeaderBytes,
		compression:      strings.ToLower(c.Compression),
		ipProtocol:       c.PreferredIPProtocol,
		// Pointers: an absent key takes the default, an explicit false stays.
		ipProtocolFallback: c.IPProtocolFallback == nil || *c.IPProtocolFallback,
	}
	authorization, authErr := c.authorization()
	err := errors.Join(
		c.planRequest(p),
		c.planValidation(p),
		c.planLimits(p),
		c.planConnection(p),
		c.planClient(p),
		authErr,
		p.buildHeaders(c.Headers, authorization),
	)
	if err != nil {
		return nil, err
	}
	// An https target named by IP but served under a name (Host header)
	// verifies against that name, as blackbox_exporter does.
	if p.host != "" && p.url.Scheme == "https" && p.tlsConfig.ServerName == "" {
		p.tlsConfig.ServerName = hostName(p.host)
	}
	return p, nil
}

// planRequest resolves what is sent: url, method and body (or body_file,
// read through ReadConfigFile's bounds).
func (c *Config) planRequest(p *plan) error {
	var errs []error
	if err := p.parseURL(c.URL); err != nil {
		errs = append(errs, err)
	}
	if p.method == "" {
		p.method = defaultMethod
	} else if !isToken(p.method) {
		errs = append(errs, probeconfig.Errorf("method", "%q is not a valid HTTP method", c.Method))
	}
	switch {
	case c.Body != "" && c.BodyFile != "":
		errs = append(errs, probeconfig.Errorf("body_file", "set only one of body and body_file"))
	case c.BodyFile != "":
		b, err := probeconfig.ReadConfigFile(c.BodyFile)
		if err != nil {
			errs = append(errs, probeconfig.Errorf("body_file", "cannot read: %v", err))
		}
		p.body = b
	case c.Body != "":
		p.body = []byte(c.Body)
	}
	return errors.Join(errs...)
}

// planValidation checks what a response is held to: status codes, versions,
// TLS or not, body and header patterns.
func (c *Config) planValidation(p *plan) error {
	var errs []error
	for i, code := range c.ValidStatusCodes {
		if code < 100 || code > 599 {
			errs = append(errs, probeconfig.Errorf(fmt.Sprintf("valid_status_codes[%d]", i), "%d is not an HTTP status code (100-599)", code))
		}
	}
	for i, v := range c.ValidHTTPVersions {
		if !slices.Contains(httpVersions, v) {
			errs = append(errs, probeconfig.Errorf(fmt.Sprintf("valid_http_versions[%d]", i), "unknown version %q: want one of %s", v, strings.Join(httpVersions, ", ")))
		}
	}
	if c.FailIfSSL && c.FailIfNotSSL {
		errs = append(errs, probeconfig.Errorf("fail_if_not_ssl", "cannot be set together with fail_if_ssl"))
	}
	var bodyMatchErr, bodyNotMatchErr, headerMatchErr, headerNotMatchErr error
	r := responseRules{validHTTPVersions: c.ValidHTTPVersions} // on the stack unless kept
	r.bodyMatch, bodyMatchErr = regexps("fail_if_body_matches_regexp", c.FailIfBodyMatchesRegexp)
	r.bodyNotMatch, bodyNotMatchErr = regexps("fail_if_body_not_matches_regexp", c.FailIfBodyNotMatchesRegexp)
	r.headerMatch, headerMatchErr = headerRules("fail_if_header_matches", c.FailIfHeaderMatches)
	r.headerNotMatch, headerNotMatchErr = headerRules("fail_if_header_not_matches", c.FailIfHeaderNotMatches)
	if len(r.validHTTPVersions)+len(r.bodyMatch)+len(r.bodyNotMatch)+len(r.headerMatch)+len(r.headerNotMatch) > 0 {
		p.rules = new(responseRules)
		*p.rules = r
	}
	return errors.Join(append(errs, bodyMatchErr, bodyNotMatchErr, headerMatchErr, headerNotMatchErr)...)
}

// planLimits resolves max_redirects, body_size_limit,
// max_response_header_bytes and compression.
func (c *Config) planLimits(p *plan) error {
	var errs []error
	if c.MaxRedirects != nil {
		p.maxRedirects = *c.MaxRedirects
		if p.maxRedirects < 0 {
			errs = append(errs, probeconfig.Errorf("max_redirects", "must be 0 or more, not %d", p.maxRedirects))
		}
	}
	switch {
	case p.bodySizeLimit < 0:
		errs = append(errs, probeconfig.Errorf("body_size_limit", "must be 0 (default 10 MiB) or more, not %d", p.bodySizeLimit))
	case p.bodySizeLimit == 0:
		p.bodySizeLimit = defaultBodySizeLimit
	}
	switch {
	case p.maxHeaderBytes < 0:
		errs = append(errs, probeconfig.Errorf("max_response_header_bytes", "must be 0 (default 1 MiB) or more, not %d", p.maxHeaderBytes))
	case p.maxHeaderBytes == 0:
		p.maxHeaderBytes = defaultMaxHeaderBytes
	}
	if !slices.Contains(compressions, p.compression) {
		errs = append(errs, probeconfig.Errorf("compression", "unknown compression %q: want gzip, deflate or identity", c.Compression))
	}
	return errors.Join(errs...)
}

// planConnection resolves how the target is reached: tls_config and the IP
// protocol (proxies are planClient's).
func (c *Config) planConnection(p *plan) error {
	var errs []error
	// A plain-http target without tls_config needs none: Go's default serves
	// a redirect to https or an https proxy, as an empty block would.
	if c.TLSConfig != (probeconfig.TLSConfig{}) || (p.url != nil && p.url.Scheme == "https") {
		tlsConfig, err := c.TLSConfig.Build()
		errs = append(errs, probeconfig.Prefix("tls_config", err))
		p.tlsConfig = tlsConfig
	}
	if !slices.Contains(ipProtocols, p.ipProtocol) {
		errs = append(errs, probeconfig.Errorf("preferred_ip_protocol", "unknown protocol %q: want ip4 or ip6", c.PreferredIPProtocol))
	}
	if p.ipProtocol == "" {
		p.ipProtocol = defaultIPProtocol
	}
	return errors.Join(errs...)
}

func (p *plan) parseURL(raw string) error {
	if raw == "" {
		return probeconfig.Errorf("url", "required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return probeconfig.Errorf("url", "cannot parse: %v", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return probeconfig.Errorf("url", "scheme must be http or https, not %q", u.Scheme)
	case u.Host == "":
		return probeconfig.Errorf("url", "has no host")
	case u.User != nil:
		// The URL shows up in errors, logs and /api; credentials must not.
		return probeconfig.Errorf("url", "must not hold credentials: use basic_auth")
	}
	p.url = u
	return nil
}

func parseProxyURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, probeconfig.Errorf("proxy_url", "cannot parse: %v", err)
	}
	switch {
	case !slices.Contains(proxySchemes, u.Scheme):
		return nil, probeconfig.Errorf("proxy_url", "scheme must be one of %s, not %q", strings.Join(proxySchemes, ", "), u.Scheme)
	case u.Host == "":
		return nil, probeconfig.Errorf("proxy_url", "has no host")
	case u.User != nil:
		return nil, probeconfig.Errorf("proxy_url", "must not hold credentials (use proxy_connect_header): they would show in /api and logs")
	}
	return u, nil
}

// authorization resolves basic_auth, the bearer token or authorization into
// the value of the Authorization header, "" when none is set (oauth2's token
// is set per request).
func (c *Config) authorization() (string, error) {
	if err := c.oneAuthorization(); err != nil {
		return "", err
	}
	if c.Authorization != nil {
		return c.Authorization.header()
	}
	token, err := probeconfig.ResolveSecret("bearer_token", c.BearerToken, c.BearerTokenFile)
	if err != nil {
		return "", err
	}
	if c.BasicAuth == nil {
		if token == "" {
			return "", nil
		}
		return "Bearer " + token.Reveal(), nil
	}
	if token != "" || c.BearerTokenFile != "" {
		return "", probeconfig.Errorf("bearer_token", "set only one of basic_auth and bearer_token")
	}
	password, err := probeconfig.ResolveSecret("password", c.BasicAuth.Password, c.BasicAuth.PasswordFile)
	if err != nil {
		return "", probeconfig.Prefix("basic_auth", err)
	}
	if c.BasicAuth.Username == "" {
		return "", probeconfig.Errorf("basic_auth.username", "required")
	}
	creds := c.BasicAuth.Username + ":" + password.Reveal()
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(creds)), nil
}

// defaultHeader is the header of every check that sets none of its own: one
// map for all of them, read-only like every header map here.
var defaultHeader = http.Header{"User-Agent": {userAgent}}

// buildHeaders prepares the header maps shared (read-only) by every run.
func (p *plan) buildHeaders(headers map[string]string, authorization string) error {
	if len(headers) == 0 && authorization == "" && p.compression == "" {
		p.header, p.crossHostHeader = defaultHeader, defaultHeader
		return nil
	}
	var errs []error
	h := make(http.Header, len(headers)+3)
	for name, value := range headers {
		path := "headers." + name
		if !httpguts.ValidHeaderFieldName(name) {
			errs = append(errs, probeconfig.Errorf(path, "invalid header name"))
			continue
		}
		if !httpguts.ValidHeaderFieldValue(value) {
			errs = append(errs, probeconfig.Errorf(path, "invalid header value"))
			continue
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		switch key {
		case "Host":
			p.host = value
			continue
		case "Authorization":
			if authorization != "" {
				errs = append(errs, probeconfig.Errorf(path, "set either this header or basic_auth/bearer_token"))
			}
		case "Accept-Encoding":
			if !acceptsEncoding(value, p.compression) {
				errs = append(errs, probeconfig.Errorf(path, "%q does not accept compression %q", value, p.compression))
			}
		}
		h[key] = []string{value}
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{userAgent}
	}
	if _, ok := h["Accept-Encoding"]; !ok && p.compression != "" {
		h["Accept-Encoding"] = []string{p.compression}
	}
	// Without credentials, a redirect to another host sends the same header.
	p.crossHostHeader = h
	if authorization != "" || slices.ContainsFunc(credentialKey, func(key string) bool { return h[key] != nil }) {
		p.crossHostHeader = h.Clone()
		for _, key := range credentialKey {
			delete(p.crossHostHeader, key)
		}
	}
	if authorization != "" {
		h["Authorization"] = []string{authorization}
	}
	p.header = h
	return errors.Join(errs...)
}

// acceptsEncoding reports whether an Accept-Encoding value admits coding with a
// non-zero weight, so that decoding the body with it is what was asked for.
func acceptsEncoding(header, coding string) bool {
	if coding == "" {
		return true
	}
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.TrimSpace(name)
		if !strings.EqualFold(name, coding) && name != "*" {
			continue
		}
		q := 1.0
		for param := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(param), "=")
			if ok && strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		return q > 0
	}
	return false
}

func regexps(key string, list []probeconfig.Regexp) ([]*regexp.Regexp, error) {
	var errs []error
	out := make([]*regexp.Regexp, 0, len(list))
	for i, re := range list {
		if re.Regexp == nil {
			errs = append(errs, probeconfig.Errorf(fmt.Sprintf("%s[%d]", key, i), "empty regexp"))
			continue
		}
		out = append(out, re.Regexp)
	}
	return out, errors.Join(errs...)
}

func headerRules(key string, list []HeaderMatch) ([]headerRule, error) {
	var errs []error
	out := make([]headerRule, 0, len(list))
	for i, m := range list {
		path := fmt.Sprintf("%s[%d]", key, i)
		if m.Header == "" {
			errs = append(errs, probeconfig.Errorf(path+".header", "required"))
		} else if !httpguts.ValidHeaderFieldName(m.Header) {
			errs = append(errs, probeconfig.Errorf(path+".header", "invalid header name %q", m.Header))
		}
		if m.Regexp.Regexp == nil {
			errs = append(errs, probeconfig.Errorf(path+".regexp", "required"))
		}
		out = append(out, headerRule{
			key:          textproto.CanonicalMIMEHeaderKey(m.Header),
			name:         m.Header,
			re:           m.Regexp.Regexp,
			allowMissing: m.AllowMissing,
		})
	}
	return out, errors.Join(errs...)
}

// isToken reports whether s is an RFC 9110 token, the grammar of a method.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !httpguts.IsTokenRune(r) {
			return false
		}
	}
	return true
}
