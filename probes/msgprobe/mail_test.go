package msgprobe

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/vigil-monitoring/vigil/internal/testpki"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// Postfix and Dovecot are not installed on this machine, so the mail tests run
// in-process servers that speak the real protocols: go-smtp's server, whose
// backend appends every accepted mail to a go-imap imapmemserver mailbox.

const (
	mailTestUser     = "probe"
	mailTestPassword = "mail-secret"
)

// mailTLSMode is how the test servers use TLS.
type mailTLSMode int

const (
	mailTLSNone     mailTLSMode = iota // clear text, auth allowed anyway
	mailTLSStartTLS                    // STARTTLS offered, auth only after it
	mailTLSImplicit                    // smtps:// and imaps://
)

func (m mailTLSMode) String() string {
	return [...]string{"clear text", "STARTTLS", "implicit TLS"}[m]
}

// mailServers is an SMTP server delivering into an IMAP server's INBOX.
type mailServers struct {
	smtpURL, imapURL string
	caFile           string // empty with mailTLSNone
	user             *imapmemserver.User
	stop             func() // closes both servers; safe to call twice
}

func newMailServers(t testing.TB, mode mailTLSMode) *mailServers {
	t.Helper()
	return newMailServersWith(t, mode, nil)
}

// newMailServersWith is newMailServers with the IMAP listener wrapped by
// wrapIMAP (nil: not wrapped), to make the IMAP server misbehave.
func newMailServersWith(t testing.TB, mode mailTLSMode, wrapIMAP func(net.Listener) net.Listener) *mailServers {
	t.Helper()
	s := &mailServers{user: imapmemserver.NewUser(mailTestUser, mailTestPassword)}
	if err := s.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	var tlsCfg *tls.Config
	if mode != mailTLSNone {
		tlsCfg, s.caFile = testCertificate(t)
	}
	quiet := log.New(io.Discard, "", 0)

	smtpLn := listenLoopback(t)
	smtpServer := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpTestSession{inbox: s.user}, nil
	}))
	smtpServer.Domain = "localhost"
	smtpServer.ErrorLog = quiet
	smtpServer.ReadTimeout, smtpServer.WriteTimeout = 10*time.Second, 10*time.Second

	memServer := imapmemserver.New()
	memServer.AddUser(s.user)
	imapOptions := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return memServer.NewSession(), nil, nil
		},
		Caps:   imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}},
		Logger: quiet,
	}
	imapLn := listenLoopback(t)

	smtpScheme, imapScheme := "smtp", "imap"
	switch mode {
	case mailTLSNone:
		smtpServer.AllowInsecureAuth = true
		imapOptions.InsecureAuth = true
		// Without UIDPLUS the transport falls back to a plain EXPUNGE.
		imapOptions.Caps = imap.CapSet{imap.CapIMAP4rev1: {}}
	case mailTLSStartTLS:
		smtpServer.TLSConfig = tlsCfg
		imapOptions.TLSConfig = tlsCfg
	case mailTLSImplicit:
		smtpLn, imapLn = tls.NewListener(smtpLn, tlsCfg), tls.NewListener(imapLn, tlsCfg)
		smtpScheme, imapScheme = "smtps", "imaps"
	}
	if wrapIMAP != nil {
		imapLn = wrapIMAP(imapLn)
	}
	imapServer := imapserver.New(imapOptions)
	smtpDone, imapDone := make(chan struct{}), make(chan struct{})
	go func() { defer close(smtpDone); _ = smtpServer.Serve(smtpLn) }()
	go func() { defer close(imapDone); _ = imapServer.Serve(imapLn) }()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			smtpServer.Close()
			imapServer.Close()
			// A server closed before its Serve registered the listener
			// does not close it (go-smtp): Serve would accept forever.
			_ = smtpLn.Close()
			_ = imapLn.Close()
			<-smtpDone
			<-imapDone
		})
	}
	t.Cleanup(s.stop)
	s.smtpURL = smtpScheme + "://" + smtpLn.Addr().String()
	s.imapURL = imapScheme + "://" + imapLn.Addr().String()
	return s
}

// config is a valid messaging block for these servers.
func (s *mailServers) config() *Config {
	cfg := &Config{
		Protocol: "mail",
		URL:      s.smtpURL,
		Username: mailTestUser,
		Password: mailTestPassword,
		MailOptions: MailOptions{
			IMAPURL:      s.imapURL,
			From:         "Vigil <vigil@example.com>",
			To:           "probe@example.com",
			PollInterval: probeconfig.Duration(50 * time.Millisecond),
		},
	}
	if s.caFile != "" {
		cfg.TLSConfig = &probeconfig.TLSConfig{CAFile: s.caFile}
	}
	return cfg
}

// inboxCount returns the number of mails in INBOX.
func (s *mailServers) inboxCount(t testing.TB) int {
	t.Helper()
	status, err := s.user.Status("INBOX", &imap.StatusOptions{NumMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	return int(*status.NumMessages)
}

// appendMail puts a mail with subject straight into INBOX, as a late or
// foreign mail would be.
func (s *mailServers) appendMail(t testing.TB, subject string) {
	t.Helper()
	msg := fmt.Sprintf("From: other@example.com\r\nTo: probe@example.com\r\nSubject: %s\r\n\r\nhello\r\n", subject)
	if _, err := s.user.Append("INBOX", bytes.NewReader([]byte(msg)), &imap.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

// smtpTestSession accepts mail from the test user after AUTH PLAIN.
type smtpTestSession struct {
	inbox  *imapmemserver.User
	authed bool
}

func (s *smtpTestSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpTestSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != mailTestUser || password != mailTestPassword {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		s.authed = true
		return nil
	}), nil
}

func (s *smtpTestSession) Mail(string, *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (s *smtpTestSession) Rcpt(string, *smtp.RcptOptions) error { return nil }

func (s *smtpTestSession) Data(r io.Reader) error {
	msg, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, err = s.inbox.Append("INBOX", bytes.NewReader(msg), &imap.AppendOptions{})
	return err
}

func (s *smtpTestSession) Reset()        {}
func (s *smtpTestSession) Logout() error { return nil }

func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// testCertificate issues a certificate for 127.0.0.1 and localhost from a
// new CA: the server's tls.Config and the CA file for tls_config.
func testCertificate(t testing.TB) (*tls.Config, string) {
	t.Helper()
	ca := testpki.NewCA(t, "vigil test mail CA")
	cert := ca.Issue(t, testpki.DNSNames("localhost"))
	return &tls.Config{Certificates: []tls.Certificate{cert.TLS}}, ca.PEMFile
}

func TestMailTransport(t *testing.T) {
	for _, mode := range []mailTLSMode{mailTLSNone, mailTLSStartTLS, mailTLSImplicit} {
		t.Run(mode.String(), func(t *testing.T) {
			servers := newMailServers(t, mode)
			cfg := servers.config()
			built, err := buildTransport(cfg, testOptions(t))
			if err != nil {
				t.Fatal(err)
			}
			tag := built.(*mailTransport).tag
			// A late mail of an earlier run of this check, and someone else's.
			servers.appendMail(t, "vigil-check "+tag+" vigil1.test-agent.earlier.1.1.deadbeef")
			servers.appendMail(t, "vigil-check 0123456789abcdef vigil1.other-agent.run.1.1.deadbeef")

			tr, got := startTransport(t, cfg)
			want := testPayloadsMore(3)
			publishAll(t, tr, want)
			assertSame(t, got.waitFor(t, len(want), 10*time.Second), asStrings(want))
			if got, want := tr.(*mailTransport).uidExpunge, mode != mailTLSNone; got != want {
				t.Errorf("uidExpunge = %v, want %v (the server's UIDPLUS)", got, want)
			}
			if err := tr.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			// Ours (and the late one) are deleted; the foreign mail stays.
			if n := servers.inboxCount(t); n != 1 {
				t.Errorf("INBOX holds %d mails after Close, want 1 (the foreign one)", n)
			}
		})
	}
}

func TestMailErrors(t *testing.T) {
	tests := []struct {
		name string
		mode mailTLSMode
		edit func(cfg *Config)
		want []string
	}{
		{
			name: "wrong SMTP password",
			mode: mailTLSStartTLS,
			edit: func(cfg *Config) {
				cfg.Password = "wrong-pass"
				cfg.IMAPPassword = mailTestPassword
			},
			want: []string{"smtp 127.0.0.1:", "auth as probe", "535", "Authentication credentials invalid"},
		},
		{
			name: "wrong IMAP password",
			mode: mailTLSStartTLS,
			edit: func(cfg *Config) { cfg.IMAPUsername, cfg.IMAPPassword = mailTestUser, "wrong-pass" },
			want: []string{"imap 127.0.0.1:", "login as probe", "AUTHENTICATIONFAILED"},
		},
		{
			name: "STARTTLS required but not offered",
			mode: mailTLSNone,
			edit: func(cfg *Config) { cfg.SMTPStartTLS = true },
			want: []string{"smtp 127.0.0.1:", "does not offer STARTTLS"},
		},
		{
			name: "untrusted certificate",
			mode: mailTLSImplicit,
			edit: func(cfg *Config) { cfg.TLSConfig = nil },
			want: []string{"smtp 127.0.0.1:", "tls handshake", "certificate"},
		},
		{
			name: "server down",
			mode: mailTLSNone,
			edit: func(cfg *Config) { cfg.URL = "smtp://" + closedPortAddr(t) },
			want: []string{"smtp 127.0.0.1:", "refused"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := newMailServers(t, tt.mode).config()
			tt.edit(cfg)
			tr, err := buildTransport(cfg, testOptions(t))
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = tr.Connect(ctx)
			if err == nil {
				t.Fatal("Connect succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, secret := range []string{"wrong-pass", mailTestPassword} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows a password", err)
				}
			}
		})
	}
}

// Close must return promptly when both servers went away mid-run.
func TestMailCloseAfterServersGone(t *testing.T) {
	servers := newMailServers(t, mailTLSStartTLS)
	tr, _ := startTransport(t, servers.config())
	servers.stop()
	start := time.Now()
	if err := tr.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(start); d > mailCommandTimeout+time.Second {
		t.Errorf("Close took %v, want at most %v", d, mailCommandTimeout+time.Second)
	}
}

func TestMailFactoryValidation(t *testing.T) {
	valid := func() Config {
		return Config{URL: "smtp://127.0.0.1:2525", Username: "u", MailOptions: MailOptions{
			IMAPURL: "imaps://127.0.0.1", From: "a@example.com", To: "b@example.com"}}
	}
	tests := []struct {
		name  string
		edit  func(cfg *Config)
		paths []string
	}{
		{name: "valid", edit: func(*Config) {}},
		{name: "wrong scheme", edit: func(cfg *Config) { cfg.URL = "imap://127.0.0.1" }, paths: []string{"url"}},
		{name: "no imap url", edit: func(cfg *Config) { cfg.IMAPURL = "" }, paths: []string{"imap_url"}},
		{name: "credentials in imap url", edit: func(cfg *Config) { cfg.IMAPURL = "imap://u:p@127.0.0.1" }, paths: []string{"imap_url"}},
		{name: "bad from", edit: func(cfg *Config) { cfg.From = "not an address" }, paths: []string{"from"}},
		{name: "no to", edit: func(cfg *Config) { cfg.To = "" }, paths: []string{"to"}},
		{name: "no imap user", edit: func(cfg *Config) { cfg.Username = "" }, paths: []string{"imap_username"}},
		{name: "starttls on smtps", edit: func(cfg *Config) { cfg.URL, cfg.SMTPStartTLS = "smtps://127.0.0.1", true }, paths: []string{"smtp_starttls"}},
		{name: "poll too fast", edit: func(cfg *Config) { cfg.PollInterval = probeconfig.Duration(time.Millisecond) }, paths: []string{"poll_interval"}},
		{name: "imap password twice", edit: func(cfg *Config) { cfg.IMAPPassword, cfg.IMAPPasswordFile = "x", "/etc/x" }, paths: []string{"imap_password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			cfg.Protocol = "mail"
			tt.edit(&cfg)
			_, err := buildTransport(&cfg, probes.Options{})
			assertFieldPaths(t, err, tt.paths)
		})
	}
}

func TestMailProbeRoundTrip(t *testing.T) {
	servers := newMailServers(t, mailTLSStartTLS)
	cfg := servers.config()
	r := runRoundTrip(t, cfg)
	assertRoundTrip(t, r, 3)
	if n := servers.inboxCount(t); n != 0 {
		t.Errorf("INBOX holds %d mails after the run, want 0", n)
	}
}

// slowStoreListener's connections answer a STORE command slowly: they send
// the first byte of the answer, pause, tell stores, and send the rest after
// delay. A client told is in the middle of reading the answer.
type slowStoreListener struct {
	net.Listener
	delay  time.Duration
	stores chan struct{}
}

func (l slowStoreListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &slowStoreConn{Conn: conn, listener: l}, nil
}

type slowStoreConn struct {
	net.Conn
	listener slowStoreListener
	storing  atomic.Bool // a STORE came; its answer is the next write
}

func (c *slowStoreConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if bytes.Contains(b[:n], []byte(" STORE ")) {
		c.storing.Store(true)
	}
	return n, err
}

func (c *slowStoreConn) Write(b []byte) (int, error) {
	if len(b) < 2 || !c.storing.CompareAndSwap(true, false) {
		return c.Conn.Write(b)
	}
	n, err := c.Conn.Write(b[:1])
	if err != nil {
		return n, err
	}
	// The server's slowness, not a wait for a result: a pause after the
	// first byte (the client is reading the answer by the end of it), the
	// signal, and a pause before the rest.
	time.Sleep(c.listener.delay / 4)
	select {
	case c.listener.stores <- struct{}{}:
	default:
	}
	time.Sleep(c.listener.delay)
	m, err := c.Conn.Write(b[1:])
	return n + m, err
}

// TestMailCloseDuringPollCleansUp: Close called while the poll loop deletes
// a delivered mail (its STORE \Deleted sent, the answer awaited) must still
// leave the mailbox empty. Close used to break that command off, which broke
// the connection, so that the clean-up failed and the probe's mails stayed.
func TestMailCloseDuringPollCleansUp(t *testing.T) {
	stores := make(chan struct{}, 1)
	servers := newMailServersWith(t, mailTLSNone, func(ln net.Listener) net.Listener {
		return slowStoreListener{Listener: ln, delay: 300 * time.Millisecond, stores: stores}
	})
	tr, _ := startTransport(t, servers.config())
	publishAll(t, tr, testPayloadsMore(1))
	select {
	case <-stores:
	case <-time.After(10 * time.Second):
		t.Fatal("the poll loop sent no STORE within 10s")
	}
	// The poll loop is now reading the answer to its STORE \Deleted.
	start := time.Now()
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if took := time.Since(start); took > mailPollGrace+mailCommandTimeout {
		t.Errorf("Close took %v, want at most %v", took, mailPollGrace+mailCommandTimeout)
	}
	if n := servers.inboxCount(t); n != 0 {
		t.Errorf("INBOX holds %d mails after Close, want 0", n)
	}
}
