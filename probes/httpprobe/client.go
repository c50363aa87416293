package httpprobe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	promconfig "github.com/prometheus/common/config"
	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/publicsuffix"
	"golang.org/x/oauth2"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// The keys blackbox_exporter takes from prometheus/common's HTTPClientConfig
// beyond Vigil's first ones: authorization, oauth2, no_proxy,
// proxy_from_environment, proxy_connect_header and enable_http2, and the
// cookies a redirect chain keeps. Their shapes are prometheus/common's; their
// secrets are probeconfig.Secrets read at load like every other; at run time
// prometheus/common chooses the proxy (ProxyConfig) and gets and caches the
// OAuth2 token (NewOAuth2RoundTripper). A check setting none of them keeps the
// direct path and a plan without a clientPlan.

// Authorization is the authorization block: the Authorization header is
// "type credentials".
type Authorization struct {
	// Type is the scheme, default Bearer; Basic is refused (use basic_auth),
	// as prometheus/common does.
	Type            string             `yaml:"type,omitempty" json:"type,omitempty"`
	Credentials     probeconfig.Secret `yaml:"credentials,omitempty" json:"credentials,omitempty"`
	CredentialsFile string             `yaml:"credentials_file,omitempty" json:"credentials_file,omitempty"`
}

// OAuth2 is the oauth2 block: the client-credentials grant against TokenURL.
// The token is cached until it expires and sent only to the target's host.
type OAuth2 struct {
	ClientID         string             `yaml:"client_id" json:"client_id"`
	ClientSecret     probeconfig.Secret `yaml:"client_secret,omitempty" json:"client_secret,omitempty"`
	ClientSecretFile string             `yaml:"client_secret_file,omitempty" json:"client_secret_file,omitempty"`
	Scopes           []string           `yaml:"scopes,omitempty" json:"scopes,omitempty"`
	TokenURL         string             `yaml:"token_url" json:"token_url"`
	EndpointParams   map[string]string  `yaml:"endpoint_params,omitempty" json:"endpoint_params,omitempty"`
	// TLSConfig applies to an https token_url.
	TLSConfig probeconfig.TLSConfig `yaml:"tls_config,omitempty" json:"tls_config,omitempty"`
}

// clientPlan is what those keys resolve to.
type clientPlan struct {
	proxyURL           *url.URL // proxy_url, nil if unset
	proxy              func(*http.Request) (*url.URL, error)
	proxyConnectHeader http.Header
	disableHTTP2       bool
	oauth2             *promconfig.OAuth2
	oauth2Secret       probeconfig.Secret
	tokenURL           string // for errors
}

// planClient resolves the proxy keys, enable_http2 and oauth2 into p.client,
// left nil when none is set.
func (c *Config) planClient(p *plan) error {
	proxyURL, proxyErr := parseProxyURL(c.ProxyURL)
	// On the stack, and copied to the heap only when kept: most checks set
	// none of these keys, and each plan (built to validate, then again for
	// the prober) allocated one.
	cp := clientPlan{proxyURL: proxyURL, disableHTTP2: c.EnableHTTP2 != nil && !*c.EnableHTTP2}
	err := errors.Join(proxyErr, c.planProxy(&cp), c.planOAuth2(&cp))
	if cp.proxy != nil || cp.oauth2 != nil || cp.disableHTTP2 {
		kept := cp
		p.client = &kept
		p.viaTransport = cp.proxy != nil || cp.oauth2 != nil
	}
	return err
}

// planProxy checks the proxy keys with prometheus/common's rules (each error
// on its key) and takes the proxy function from its ProxyConfig.
func (c *Config) planProxy(cp *clientPlan) error {
	var errs []error
	switch {
	case c.ProxyFromEnvironment && c.ProxyURL != "":
		errs = append(errs, probeconfig.Errorf("proxy_from_environment", "set either proxy_url or proxy_from_environment"))
	case c.ProxyFromEnvironment && c.NoProxy != "":
		errs = append(errs, probeconfig.Errorf("no_proxy", "cannot be set with proxy_from_environment (NO_PROXY applies)"))
	case c.NoProxy != "" && c.ProxyURL == "":
		errs = append(errs, probeconfig.Errorf("no_proxy", "needs proxy_url"))
	}
	if len(c.ProxyConnectHeader) > 0 && c.ProxyURL == "" && !c.ProxyFromEnvironment {
		errs = append(errs, probeconfig.Errorf("proxy_connect_header", "needs proxy_url or proxy_from_environment"))
	}
	var header promconfig.ProxyHeader // made only for a proxy: most checks have none
	for name, values := range c.ProxyConnectHeader {
		if header == nil {
			header = make(promconfig.ProxyHeader, len(c.ProxyConnectHeader))
		}
		if !httpguts.ValidHeaderFieldName(name) {
			errs = append(errs, probeconfig.Errorf("proxy_connect_header."+name, "invalid header name"))
		}
		for i, v := range values {
			if !httpguts.ValidHeaderFieldValue(v.Reveal()) {
				// The value is secret: say which, never what.
				errs = append(errs, probeconfig.Errorf(fmt.Sprintf("proxy_connect_header.%s[%d]", name, i), "invalid header value"))
			}
			header[name] = append(header[name], promconfig.Secret(v.Reveal()))
		}
	}
	if err := errors.Join(errs...); err != nil || (cp.proxyURL == nil && !c.ProxyFromEnvironment) {
		return err
	}
	if header == nil {
		header = promconfig.ProxyHeader{}
	}
	pc := &promconfig.ProxyConfig{
		ProxyURL:             promconfig.URL{URL: cp.proxyURL},
		NoProxy:              c.NoProxy,
		ProxyFromEnvironment: c.ProxyFromEnvironment,
		ProxyConnectHeader:   header,
	}
	// The environment is read here, once: at load, as Prometheus does.
	cp.proxy = pc.Proxy()
	cp.proxyConnectHeader = pc.GetProxyConnectHeader()
	if cp.proxy == nil { // proxy_from_environment with no proxy in it
		cp.proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	}
	return nil
}

// planOAuth2 checks the oauth2 block and builds prometheus/common's config of
// it; the client secret is read here, once, like every secret file.
func (c *Config) planOAuth2(cp *clientPlan) error {
	o := c.OAuth2
	if o == nil {
		return nil
	}
	var errs []error
	if o.ClientID == "" {
		errs = append(errs, probeconfig.Errorf("client_id", "required"))
	}
	secret, err := probeconfig.ResolveSecret("client_secret", o.ClientSecret, o.ClientSecretFile)
	errs = append(errs, err)
	tokenURL, err := parseTokenURL(o.TokenURL)
	errs = append(errs, err)
	tlsConfig, err := o.TLSConfig.Build()
	errs = append(errs, probeconfig.Prefix("tls_config", err))
	for name := range c.Headers {
		if strings.EqualFold(name, "Authorization") {
			errs = append(errs, probeconfig.Errorf("client_id", "the oauth2 token replaces headers.%s: set one of them", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return probeconfig.Prefix("oauth2", err)
	}
	cp.oauth2Secret, cp.tokenURL = secret, tokenURL.Redacted()
	cp.oauth2 = &promconfig.OAuth2{
		ClientID:       o.ClientID,
		Scopes:         o.Scopes,
		TokenURL:       o.TokenURL,
		EndpointParams: o.EndpointParams,
		TLSConfig: promconfig.TLSConfig{
			CAFile:             o.TLSConfig.CAFile,
			CertFile:           o.TLSConfig.CertFile,
			KeyFile:            o.TLSConfig.KeyFile,
			ServerName:         o.TLSConfig.ServerName,
			InsecureSkipVerify: o.TLSConfig.InsecureSkipVerify,
			MinVersion:         promconfig.TLSVersion(tlsConfig.MinVersion),
			MaxVersion:         promconfig.TLSVersion(tlsConfig.MaxVersion),
		},
	}
	return nil
}

func parseTokenURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, probeconfig.Errorf("token_url", "required")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, probeconfig.Errorf("token_url", "cannot parse: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, probeconfig.Errorf("token_url", "scheme must be http or https, not %q", u.Scheme)
	case u.Host == "":
		return nil, probeconfig.Errorf("token_url", "has no host")
	case u.User != nil:
		return nil, probeconfig.Errorf("token_url", "must not hold credentials: use client_id and client_secret")
	}
	return u, nil
}

// oneAuthorization refuses more than one of basic_auth, bearer_token,
// authorization and oauth2 when one of them is one of the last two (the
// first two have their own message).
func (c *Config) oneAuthorization() error {
	var set []string
	if c.BasicAuth != nil {
		set = append(set, "basic_auth")
	}
	if c.BearerToken != "" || c.BearerTokenFile != "" {
		set = append(set, "bearer_token")
	}
	if c.Authorization != nil {
		set = append(set, "authorization")
	}
	if c.OAuth2 != nil {
		set = append(set, "oauth2")
	}
	if len(set) > 1 && (c.Authorization != nil || c.OAuth2 != nil) {
		return probeconfig.Errorf(set[len(set)-1], "set only one of %s", strings.Join(set, ", "))
	}
	return nil
}

// header is the Authorization header's value, credentials read at load.
func (a *Authorization) header() (string, error) {
	creds, err := probeconfig.ResolveSecret("credentials", a.Credentials, a.CredentialsFile)
	typ := strings.TrimSpace(a.Type)
	var errs []error
	switch {
	case typ == "":
		typ = "Bearer"
	case strings.EqualFold(typ, "basic"):
		errs = append(errs, probeconfig.Errorf("type", `cannot be "Basic": use basic_auth`))
	case !isToken(typ):
		errs = append(errs, probeconfig.Errorf("type", "%q is not an authentication scheme", a.Type))
	}
	switch {
	case err != nil:
		errs = append(errs, err)
	case creds == "":
		errs = append(errs, probeconfig.Errorf("credentials", "required (or credentials_file)"))
	case !httpguts.ValidHeaderFieldValue(creds.Reveal()):
		errs = append(errs, probeconfig.Errorf("credentials", "not a valid header value"))
	}
	if err := errors.Join(errs...); err != nil {
		return "", probeconfig.Prefix("authorization", err)
	}
	return typ + " " + creds.Reveal(), nil
}

// configureTransport applies the client keys to the prober's transport.
func (cp *clientPlan) configureTransport(t *http.Transport) {
	if cp == nil {
		return
	}
	t.Proxy, t.ProxyConnectHeader = cp.proxy, cp.proxyConnectHeader
	if cp.disableHTTP2 {
		var protocols http.Protocols
		protocols.SetHTTP1(true)
		t.Protocols, t.ForceAttemptHTTP2 = &protocols, false
	}
}

// oauth2Client is an oauth2 check's prometheus/common round tripper over the
// prober's transport.
type oauth2Client struct {
	rt       http.RoundTripper
	tokenURL string
	// run is the current run's context. prometheus/common fetches the token
	// with a context of its own, without deadline: its dials take this one,
	// so that a token endpoint that hangs costs the run its timeout, no more.
	run  atomic.Pointer[context.Context]
	dial func(context.Context, *requestTrace, string) (net.Conn, error)
}

func (p *Prober) newOAuth2Client(cp *clientPlan) *oauth2Client {
	o := &oauth2Client{tokenURL: cp.tokenURL, dial: p.dial}
	o.rt = promconfig.NewOAuth2RoundTripper(
		promconfig.NewInlineSecret(cp.oauth2Secret.Reveal()), cp.oauth2, targetTransport{p},
		promconfig.WithDialContextFunc(o.dialToken), promconfig.WithKeepAlivesDisabled())
	return o
}

func (o *oauth2Client) dialToken(_ context.Context, _, address string) (net.Conn, error) {
	ctx := context.Background()
	if run := o.run.Load(); run != nil {
		ctx = *run
	}
	conn, err := o.dial(ctx, newRequestTrace(time.Now()), address)
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return conn, nil
}

// targetTransport is the transport under the OAuth2 round tripper; it marks
// its errors, so that any other error is the token's.
type targetTransport struct{ p *Prober }

// targetError is an error of the request to the target itself.
type targetError struct{ err error }

func (e *targetError) Error() string { return e.err.Error() }

func (t targetTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.p.httpTransport().RoundTrip(req)
	if err != nil {
		return nil, &targetError{err}
	}
	return resp, nil
}

// sendTransport sends the hop through the transport, with the OAuth2 token
// when the hop goes to the configured host.
func (p *Prober) sendTransport(ctx context.Context, h *hop, tr *requestTrace) (*http.Response, error) {
	req := h.request(ctx, tr)
	if p.oauth2 == nil || !strings.EqualFold(h.url.Hostname(), p.plan.url.Hostname()) {
		resp, err := p.httpTransport().RoundTrip(req)
		return resp, p.headerLimitError(err)
	}
	p.oauth2.run.Store(&ctx)
	resp, err := p.oauth2.rt.RoundTrip(req)
	if te, ok := err.(*targetError); ok {
		return nil, p.headerLimitError(te.err)
	}
	if err != nil {
		return nil, p.oauth2.tokenError(err)
	}
	return resp, nil
}

// tokenError names the token endpoint in a failure to get a token, with the
// status and OAuth2 error code the endpoint answered, not its body.
func (o *oauth2Client) tokenError(err error) error {
	var retrieve *oauth2.RetrieveError
	if errors.As(err, &retrieve) && retrieve.Response != nil {
		msg := fmt.Sprintf("oauth2 token from %s: %s", o.tokenURL, retrieve.Response.Status)
		if retrieve.ErrorCode != "" {
			msg += fmt.Sprintf(" (error %q", retrieve.ErrorCode)
			if retrieve.ErrorDescription != "" {
				msg += fmt.Sprintf(": %q", retrieve.ErrorDescription)
			}
			msg += ")"
		}
		return &failure{msg: msg}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // it repeats the token URL
	}
	return fmt.Errorf("oauth2 token from %s: %w", o.tokenURL, err)
}

// redirectCookies keeps the cookies a redirect chain sets, for its next hops,
// as blackbox_exporter's cookie jar per probe does. The jar is made at the
// first Set-Cookie of a redirect: a run without one pays nothing.
type redirectCookies struct{ jar *cookiejar.Jar }

// keep stores the cookies of a redirect response to a request for u.
func (c *redirectCookies) keep(u *url.URL, resp *http.Response) {
	if len(resp.Header["Set-Cookie"]) == 0 {
		return
	}
	if c.jar == nil {
		c.jar, _ = cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List}) // never fails
	}
	c.jar.SetCookies(u, resp.Cookies())
}

// add puts the kept cookies for the hop's URL into its Cookie header, after
// any configured one, on a copy of the shared header.
func (c *redirectCookies) add(h *hop) {
	if c.jar == nil {
		return
	}
	cookies := c.jar.Cookies(h.url)
	if len(cookies) == 0 {
		return
	}
	pairs := make([]string, 0, len(cookies)+1)
	if v := h.header.Get("Cookie"); v != "" {
		pairs = append(pairs, v)
	}
	for _, cookie := range cookies {
		pairs = append(pairs, (&http.Cookie{Name: cookie.Name, Value: cookie.Value, Quoted: cookie.Quoted}).String())
	}
	h.header = h.header.Clone()
	h.header.Set("Cookie", strings.Join(pairs, "; "))
}
