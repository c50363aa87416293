package msgprobe

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// MailOptions are the keys of protocol mail: url is the SMTP server
// (smtp://host:port, with STARTTLS when offered, or smtps:// for implicit TLS)
// that Publish sends through, with AUTH PLAIN as username/password when
// username is set. Each mail's Subject is "vigil-check <tag> <payload>", the tag
// a hash of agent and check id: the poll loop searches the mailbox over IMAP
// for the tag, delivers each new mail's payload, and deletes the mail (STORE
// \Deleted, then UID EXPUNGE, or EXPUNGE without UIDPLUS).
type MailOptions struct {
	// IMAPURL is imap://host:port (STARTTLS when offered) or imaps://host:port.
	IMAPURL string `yaml:"imap_url,omitempty" json:"imap_url,omitempty"`
	// From and To are the envelope and header addresses.
	From string `yaml:"from,omitempty" json:"from,omitempty"`
	To   string `yaml:"to,omitempty" json:"to,omitempty"`
	// Mailbox is searched for the mails; default INBOX.
	Mailbox string `yaml:"mailbox,omitempty" json:"mailbox,omitempty"`
	// PollInterval between IMAP searches; default 500ms.
	PollInterval probeconfig.Duration `yaml:"poll_interval,omitempty" json:"poll_interval,omitempty"`
	// IMAPUsername and IMAPPassword log in to IMAP; default username and
	// password.
	IMAPUsername     string             `yaml:"imap_username,omitempty" json:"imap_username,omitempty"`
	IMAPPassword     probeconfig.Secret `yaml:"imap_password,omitempty" json:"imap_password,omitempty"`
	IMAPPasswordFile string             `yaml:"imap_password_file,omitempty" json:"imap_password_file,omitempty"`
	// SMTPStartTLS makes STARTTLS required on smtp://: a server that does not
	// offer it fails the run instead of being spoken to in clear text.
	SMTPStartTLS bool `yaml:"smtp_starttls,omitempty" json:"smtp_starttls,omitempty"`
}

const (
	defaultMailbox          = "INBOX"
	defaultMailPollInterval = 500 * time.Millisecond
	// mailCommandTimeout bounds one IMAP command of the poll loop and the
	// clean-up in Close, so a silent server cannot hold them.
	mailCommandTimeout = 5 * time.Second
	// mailPollGrace is how long Close lets a poll in flight finish its
	// commands (a STORE \Deleted, an EXPUNGE) before breaking them off: a
	// poll broken off mid-command leaves the connection unusable, and the
	// clean-up that follows on it would fail and leave the probe's mails in
	// the mailbox.
	mailPollGrace = 2 * time.Second
	// mailSubjectPrefix starts every probe mail's Subject, followed by the
	// check's tag and the payload.
	mailSubjectPrefix = "vigil-check"
)

// mailTransport sends mails over SMTP and reads them back over IMAP.
type mailTransport struct {
	*mailSettings

	// smtpConn and imapConn are the raw connections under the clients, for
	// deadlines and for max_message_bytes: neither go-smtp (a multi-line
	// reply's lines) nor go-imap (atoms, literals) bounds what a server's
	// answer may take, so each command's answer gets that many bytes.
	smtpConn   *cappedConn
	smtp       *smtp.Client
	imapConn   *cappedConn
	imap       *imapclient.Client
	uidExpunge bool
	receiveFailure

	// stop asks the poll loop to end after the poll in flight; cancel
	// breaks off that poll's commands (their connection with them).
	stop   chan struct{}
	cancel context.CancelFunc
	done   chan struct{} // closed when the poll loop has returned
	// handled holds the UIDs already delivered (or found before Subscribe), so
	// a mail whose deletion failed is not delivered twice.
	handled map[imap.UID]bool
}

// mailSettings are a mail check's settings, compiled once.
type mailSettings struct {
	checkID      string
	smtpAddr     string
	smtpHost     string
	smtpTLS      bool // implicit TLS (smtps)
	needStartTLS bool
	imapAddr     string
	imapHost     string
	imapTLS      bool        // implicit TLS (imaps)
	tlsConfig    *tls.Config // shared: tlsFor clones it per connection
	username     string
	password     probeconfig.Secret
	imapUsername string
	imapPassword probeconfig.Secret
	from, to     string
	mailbox      string
	interval     time.Duration
	// tag is a hash of agent and check id in every Subject, so that the search
	// finds this check's mails and no one else's in a shared mailbox.
	tag   string
	limit int64 // max_message_bytes, per command's answer
	log   *slog.Logger
}

func compileMail(sh *shared) (connector, error) {
	cfg := sh.cfg
	sum := sha256.Sum256([]byte(sh.agentID + "\x00" + sh.checkID))
	s := &mailSettings{
		checkID:      sh.checkID,
		needStartTLS: cfg.SMTPStartTLS,
		tlsConfig:    sh.tls,
		username:     cfg.Username,
		password:     sh.password,
		from:         cfg.From,
		to:           cfg.To,
		tag:          hex.EncodeToString(sum[:8]),
		limit:        cfg.maxMessageBytes(defaultMaxMessageBytes),
		log:          sh.log,
	}
	if s.tlsConfig == nil {
		s.tlsConfig = &tls.Config{}
	}
	if err := errors.Join(s.compileServers(cfg), s.compileMailbox(cfg), s.compileLogins(cfg)); err != nil {
		return nil, err
	}
	return func() Transport { return &mailTransport{mailSettings: s} }, nil
}

// compileServers reads url (SMTP) and imap_url, and smtp_starttls.
func (s *mailSettings) compileServers(cfg *Config) error {
	var errs []error
	smtpHost, smtpPort, smtpTLS, err := mailServer("url", cfg.URL, "smtp", "25", "smtps", "465")
	if err != nil {
		errs = append(errs, err)
	}
	imapHost, imapPort, imapTLS, err := mailServer("imap_url", cfg.IMAPURL, "imap", "143", "imaps", "993")
	if err != nil {
		errs = append(errs, err)
	}
	if cfg.SMTPStartTLS && smtpTLS {
		errs = append(errs, probeconfig.Errorf("smtp_starttls", "smtps:// already uses TLS; use smtp:// with smtp_starttls"))
	}
	s.smtpAddr, s.smtpHost, s.smtpTLS = net.JoinHostPort(smtpHost, smtpPort), smtpHost, smtpTLS
	s.imapAddr, s.imapHost, s.imapTLS = net.JoinHostPort(imapHost, imapPort), imapHost, imapTLS
	return errors.Join(errs...)
}

// compileMailbox reads from, to, mailbox and poll_interval.
func (s *mailSettings) compileMailbox(cfg *Config) error {
	var errs []error
	for key, addr := range map[string]string{"from": cfg.From, "to": cfg.To} {
		if addr == "" {
			errs = append(errs, probeconfig.Errorf(key, "required for protocol mail"))
		} else if _, err := mail.ParseAddress(addr); err != nil {
			errs = append(errs, probeconfig.Errorf(key, "bad address %q: %v", addr, err))
		}
	}
	s.mailbox = cfg.Mailbox
	if s.mailbox == "" {
		s.mailbox = defaultMailbox
	}
	s.interval = time.Duration(cfg.PollInterval)
	switch {
	case s.interval == 0:
		s.interval = defaultMailPollInterval
	case s.interval < 50*time.Millisecond:
		errs = append(errs, probeconfig.Errorf("poll_interval", "must be at least 50ms, got %s", cfg.PollInterval))
	}
	return errors.Join(errs...)
}

// compileLogins resolves the SMTP and IMAP credentials: IMAP takes username
// and password unless imap_username is set.
func (s *mailSettings) compileLogins(cfg *Config) error {
	var errs []error
	if cfg.Username == "" && s.password != "" {
		errs = append(errs, probeconfig.Errorf("username", "required when password is set (SMTP AUTH PLAIN)"))
	}
	imapPassword, err := probeconfig.ResolveSecret("imap_password", cfg.IMAPPassword, cfg.IMAPPasswordFile)
	if err != nil {
		errs = append(errs, err)
	}
	s.imapUsername, s.imapPassword = cfg.IMAPUsername, imapPassword
	if s.imapUsername == "" {
		s.imapUsername = cfg.Username
		if s.imapPassword == "" {
			s.imapPassword = s.password
		}
	}
	if s.imapUsername == "" {
		errs = append(errs, probeconfig.Errorf("imap_username", "required for protocol mail (or set username)"))
	}
	return errors.Join(errs...)
}

// mailServer reads scheme://host[:port] where scheme is plain or secure (implicit
// TLS), filling in the scheme's default port.
func mailServer(key, raw, plain, plainPort, secure, securePort string) (host, port string, implicitTLS bool, err error) {
	if raw == "" {
		return "", "", false, probeconfig.Errorf(key, "required for protocol mail")
	}
	u, perr := url.Parse(raw)
	switch {
	case perr != nil:
		return "", "", false, probeconfig.Errorf(key, "cannot parse %s", redactURL(raw))
	case u.Scheme != plain && u.Scheme != secure:
		return "", "", false, probeconfig.Errorf(key, "want %s:// or %s://, got %s", plain, secure, redactURL(raw))
	case u.Hostname() == "":
		return "", "", false, probeconfig.Errorf(key, "no host in %s", redactURL(raw))
	case u.User != nil:
		return "", "", false, probeconfig.Errorf(key, "put credentials in username and password, not in the url")
	case u.Path != "" && u.Path != "/":
		return "", "", false, probeconfig.Errorf(key, "want no path in %s", redactURL(raw))
	}
	port = u.Port()
	if port == "" {
		port = plainPort
		if u.Scheme == secure {
			port = securePort
		}
	}
	return u.Hostname(), port, u.Scheme == secure, nil
}

// tlsFor returns the TLS settings for host, naming the server when tls_config
// does not.
func (m *mailSettings) tlsFor(host string) *tls.Config {
	c := m.tlsConfig.Clone()
	if c.ServerName == "" {
		c.ServerName = host
	}
	return c
}

// bound makes ctx (its deadline and its cancellation) bound the I/O on conn
// until the returned function is called.
func bound(ctx context.Context, conn net.Conn) (release func()) {
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return func() {
		stop()
		_ = conn.SetDeadline(time.Time{})
	}
}

// Connect opens the SMTP session (TLS, AUTH) and the IMAP session (TLS,
// LOGIN, SELECT mailbox).
func (m *mailTransport) Connect(ctx context.Context) error {
	if err := m.connectSMTP(ctx); err != nil {
		return err
	}
	if err := m.connectIMAP(ctx); err != nil {
		m.closeSMTP()
		return err
	}
	return nil
}

func (m *mailTransport) connectSMTP(ctx context.Context) error {
	client, conn, err := m.dialSMTP(ctx)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", m.smtpAddr, err)
	}
	release := bound(ctx, conn)
	defer release()
	if m.username != "" {
		conn.refill()
		auth := sasl.NewPlainClient("", m.username, m.password.Reveal())
		if err := client.Auth(auth); err != nil {
			client.Close()
			return fmt.Errorf("smtp %s: auth as %s: %w", m.smtpAddr, m.username, conn.capError("smtp reply", err))
		}
	}
	m.smtp, m.smtpConn = client, conn
	return nil
}

// dialSMTP connects and says EHLO, then upgrades with STARTTLS when the server
// offers it. go-smtp upgrades only a fresh client, so a server that offers
// STARTTLS is dialled a second time.
func (m *mailTransport) dialSMTP(ctx context.Context) (*smtp.Client, *cappedConn, error) {
	conn, err := m.dialSMTPConn(ctx)
	if err != nil {
		return nil, nil, err
	}
	release := bound(ctx, conn)
	defer release()
	if m.smtpTLS {
		tlsConn := tls.Client(conn, m.tlsFor(m.smtpHost))
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("tls handshake: %w", err)
		}
		client := smtp.NewClient(tlsConn)
		setSMTPTimeouts(ctx, client)
		if err := client.Hello("localhost"); err != nil {
			client.Close()
			return nil, nil, fmt.Errorf("ehlo: %w", conn.capError("smtp reply", err))
		}
		return client, conn, nil
	}
	client := smtp.NewClient(conn)
	setSMTPTimeouts(ctx, client)
	if err := client.Hello("localhost"); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("ehlo: %w", conn.capError("smtp reply", err))
	}
	if offered, _ := client.Extension("STARTTLS"); !offered {
		if m.needStartTLS {
			client.Close()
			return nil, nil, errors.New("server does not offer STARTTLS, which smtp_starttls requires")
		}
		return client, conn, nil
	}
	_ = client.Quit()
	client.Close()
	conn2, err := m.dialSMTPConn(ctx)
	if err != nil {
		return nil, nil, err
	}
	release2 := bound(ctx, conn2)
	defer release2()
	client, err = smtp.NewClientStartTLS(conn2, m.tlsFor(m.smtpHost))
	if err != nil {
		return nil, nil, fmt.Errorf("starttls: %w", conn2.capError("smtp reply", err))
	}
	setSMTPTimeouts(ctx, client)
	return client, conn2, nil
}

func (m *mailTransport) dialSMTPConn(ctx context.Context) (*cappedConn, error) {
	return m.dial(ctx, m.smtpAddr)
}

// dial connects to addr, reading at most max_message_bytes per command.
func (m *mailTransport) dial(ctx context.Context, addr string) (*cappedConn, error) {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return newCappedConn(conn, m.limit), nil
}

// setSMTPTimeouts bounds each SMTP command by ctx's deadline: go-smtp sets its
// own deadline per command, replacing any set on the connection.
func setSMTPTimeouts(ctx context.Context, client *smtp.Client) {
	timeout := mailCommandTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(deadline), time.Millisecond)
	}
	client.CommandTimeout = timeout
	client.SubmissionTimeout = timeout
}

func (m *mailTransport) connectIMAP(ctx context.Context) error {
	client, conn, err := m.dialIMAP(ctx)
	if err != nil {
		return fmt.Errorf("imap %s: %w", m.imapAddr, err)
	}
	release := bound(ctx, conn)
	defer release()
	conn.refill()
	if err := client.Login(m.imapUsername, m.imapPassword.Reveal()).Wait(); err != nil {
		client.Close()
		return fmt.Errorf("imap %s: login as %s: %w", m.imapAddr, m.imapUsername, conn.capError("imap response", err))
	}
	conn.refill()
	if _, err := client.Select(m.mailbox, nil).Wait(); err != nil {
		client.Close()
		return fmt.Errorf("imap %s: select mailbox %s: %w", m.imapAddr, m.mailbox, conn.capError("imap response", err))
	}
	caps := client.Caps()
	m.uidExpunge = caps.Has(imap.CapUIDPlus) || caps.Has(imap.CapIMAP4rev2)
	m.imap, m.imapConn = client, conn
	return nil
}

// dialIMAP connects with TLS (imaps), or upgrades with STARTTLS when the server
// offers it, redialling as dialSMTP does.
func (m *mailTransport) dialIMAP(ctx context.Context) (*imapclient.Client, *cappedConn, error) {
	conn, err := m.dial(ctx, m.imapAddr)
	if err != nil {
		return nil, nil, err
	}
	release := bound(ctx, conn)
	defer release()
	options := &imapclient.Options{TLSConfig: m.tlsFor(m.imapHost)}
	if m.imapTLS {
		tlsConn := tls.Client(conn, options.TLSConfig)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("tls handshake: %w", err)
		}
		client := imapclient.New(tlsConn, options)
		if err := client.WaitGreeting(); err != nil {
			client.Close()
			return nil, nil, fmt.Errorf("greeting: %w", conn.capError("imap response", err))
		}
		return client, conn, nil
	}
	client := imapclient.New(conn, options)
	if err := client.WaitGreeting(); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("greeting: %w", conn.capError("imap response", err))
	}
	if !client.Caps().Has(imap.CapStartTLS) {
		return client, conn, nil
	}
	_ = client.Logout().Wait()
	client.Close()
	conn2, err := m.dial(ctx, m.imapAddr)
	if err != nil {
		return nil, nil, err
	}
	release2 := bound(ctx, conn2)
	defer release2()
	client, err = imapclient.NewStartTLS(conn2, options)
	if err != nil {
		return nil, nil, fmt.Errorf("starttls: %w", conn2.capError("imap response", err))
	}
	return client, conn2, nil
}

// Subscribe notes the probe mails already in the mailbox (late mails of
// earlier runs: they are deleted, not delivered) and starts the poll loop.
func (m *mailTransport) Subscribe(ctx context.Context, deliver func(payload []byte)) error {
	if m.imap == nil {
		return fmt.Errorf("subscribe to imap %s: not connected", m.imapAddr)
	}
	release := bound(ctx, m.imapConn)
	m.imapConn.refill()
	uids, err := m.search()
	release()
	if err != nil {
		return fmt.Errorf("imap %s: search mailbox %s: %w", m.imapAddr, m.mailbox, m.imapConn.capError("imap response", err))
	}
	m.handled = make(map[imap.UID]bool, len(uids))
	for _, uid := range uids {
		m.handled[uid] = true
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	m.stop, m.cancel, m.done = make(chan struct{}), cancel, make(chan struct{})
	go m.poll(loopCtx, deliver)
	return nil
}

// search returns the UIDs of this check's mails not yet marked deleted.
func (m *mailTransport) search() ([]imap.UID, error) {
	criteria := &imap.SearchCriteria{
		Header:  []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: mailSubjectPrefix + " " + m.tag}},
		NotFlag: []imap.Flag{imap.FlagDeleted},
	}
	data, err := m.imap.UIDSearch(criteria, nil).Wait()
	if err != nil {
		return nil, err
	}
	return data.AllUIDs(), nil
}

// poll searches the mailbox every interval, delivers the payloads of new
// mails, and deletes them, until stop is closed (after the poll in flight) or
// ctx is done (at once).
func (m *mailTransport) poll(ctx context.Context, deliver func(payload []byte)) {
	defer close(m.done)
	ticker := time.NewTicker(m.interval)
	defer ticker.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		opCtx, cancel := context.WithTimeout(ctx, mailCommandTimeout)
		m.imapConn.refill()
		err := m.imapConn.capError("imap response", m.pollOnce(opCtx, deliver))
		cancel()
		var tooBig *messageTooBigError
		switch {
		case ctx.Err() != nil:
			return
		case errors.As(err, &tooBig):
			// The client is closed by now, and the next answer would be
			// as long.
			m.fail(fmt.Errorf("imap %s: %w", m.imapAddr, err))
			return
		case err != nil:
			m.log.Debug("mail poll failed", "check", m.checkID, "imap", m.imapAddr, "err", err)
		}
	}
}

func (m *mailTransport) pollOnce(ctx context.Context, deliver func(payload []byte)) error {
	release := bound(ctx, m.imapConn)
	defer release()
	uids, err := m.search()
	if err != nil || len(uids) == 0 {
		return err
	}
	var fresh imap.UIDSet
	for _, uid := range uids {
		if !m.handled[uid] {
			fresh.AddNum(uid)
		}
	}
	if len(fresh) > 0 {
		msgs, err := m.imap.Fetch(fresh, &imap.FetchOptions{UID: true, Envelope: true}).Collect()
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		// UID order is arrival order.
		for _, msg := range sortByUID(msgs) {
			m.handled[msg.UID] = true
			if msg.Envelope == nil {
				continue
			}
			if payload := subjectPayload(msg.Envelope.Subject); payload != "" {
				deliver([]byte(payload))
			}
		}
	}
	return m.delete(imap.UIDSetNum(uids...))
}

// delete marks the mails deleted and expunges them.
func (m *mailTransport) delete(uids imap.UIDSet) error {
	store := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
	if err := m.imap.Store(uids, store, nil).Close(); err != nil {
		return fmt.Errorf("store \\Deleted: %w", err)
	}
	var err error
	if m.uidExpunge {
		err = m.imap.UIDExpunge(uids).Close()
	} else {
		err = m.imap.Expunge().Close()
	}
	if err != nil {
		return fmt.Errorf("expunge: %w", err)
	}
	return nil
}

func sortByUID(msgs []*imapclient.FetchMessageBuffer) []*imapclient.FetchMessageBuffer {
	for i := 1; i < len(msgs); i++ {
		for j := i; j > 0 && msgs[j].UID < msgs[j-1].UID; j-- {
			msgs[j], msgs[j-1] = msgs[j-1], msgs[j]
		}
	}
	return msgs
}

// subjectPayload returns the payload: the last word of the Subject, since
// relays may prefix subjects ("[SPAM] ...") but rarely append to them.
func subjectPayload(subject string) string {
	fields := strings.Fields(subject)
	if len(fields) < 3 {
		return ""
	}
	return fields[len(fields)-1]
}

// Alive implements aliveChecker: the IMAP client notices a dropped connection.
// (An SMTP session the server timed out shows only on the next send.)
func (m *mailTransport) Alive() bool {
	if m.imap == nil {
		return false
	}
	select {
	case <-m.imap.Closed():
		return false
	default:
		return true
	}
}

// Publish sends one mail whose Subject carries the check's tag and the payload.
func (m *mailTransport) Publish(ctx context.Context, payload []byte) error {
	if m.smtp == nil {
		return fmt.Errorf("send through smtp %s: not connected", m.smtpAddr)
	}
	release := bound(ctx, m.smtpConn)
	defer release()
	m.smtpConn.refill()
	setSMTPTimeouts(ctx, m.smtp)
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "From: %s\r\n", m.from)
	fmt.Fprintf(&msg, "To: %s\r\n", m.to)
	fmt.Fprintf(&msg, "Subject: %s %s %s\r\n", mailSubjectPrefix, m.tag, payload)
	fmt.Fprintf(&msg, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&msg, "Message-ID: <%s.%s@vigil.invalid>\r\n", m.tag, payload)
	msg.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	fmt.Fprintf(&msg, "Vigil messaging round trip of check %s.\r\nPayload: %s\r\n", m.checkID, payload)
	if err := m.smtp.SendMail(envelopeAddress(m.from), []string{envelopeAddress(m.to)}, &msg); err != nil {
		return fmt.Errorf("send through smtp %s: %w", m.smtpAddr, m.smtpConn.capError("smtp reply", err))
	}
	return nil
}

// envelopeAddress returns the bare address of "Name <addr>"; from and to were
// checked by the factory.
func envelopeAddress(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return s
}

// Close stops the poll loop, deletes this check's mails that are still in the
// mailbox (the poll loop may not have seen the last ones), and ends both
// sessions. A poll in flight may finish first (mailPollGrace), so that the
// clean-up finds a usable connection; each step after is bounded by
// mailCommandTimeout.
func (m *mailTransport) Close() error {
	m.stopPolling()
	if m.imap != nil {
		ctx, cancel := context.WithTimeout(context.Background(), mailCommandTimeout)
		release := bound(ctx, m.imapConn)
		m.imapConn.refill()
		uids, err := m.search()
		if err == nil && len(uids) > 0 {
			err = m.delete(imap.UIDSetNum(uids...))
		}
		if err != nil {
			m.log.Debug("mail clean-up failed", "check", m.checkID, "imap", m.imapAddr, "err", err)
		}
		_ = m.imap.Logout().Wait()
		release()
		cancel()
		m.imap.Close()
		m.imap, m.imapConn = nil, nil
	}
	m.closeSMTP()
	return nil
}

// stopPolling ends the poll loop: it lets a poll in flight finish for up to
// mailPollGrace, then breaks it off, and returns once the loop has returned.
func (m *mailTransport) stopPolling() {
	if m.stop == nil {
		return
	}
	close(m.stop)
	grace := time.NewTimer(mailPollGrace)
	select {
	case <-m.done:
	case <-grace.C:
		m.cancel()
		<-m.done
	}
	grace.Stop()
	m.cancel()
	m.stop, m.cancel = nil, nil
}

func (m *mailTransport) closeSMTP() {
	if m.smtp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), mailCommandTimeout)
	release := bound(ctx, m.smtpConn)
	m.smtpConn.refill()
	setSMTPTimeouts(ctx, m.smtp)
	_ = m.smtp.Quit()
	release()
	cancel()
	m.smtp.Close()
	m.smtp, m.smtpConn = nil, nil
}
