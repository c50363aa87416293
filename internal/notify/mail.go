package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTP is the mail server subscription mails go through (notify.smtp).
type SMTP struct {
	// Address is host:port.
	Address string
	// From is the sender, e.g. "Vigil <status@example.com>".
	From               string
	Username, Password string
	// StartTLS requires STARTTLS before anything is sent (and before AUTH).
	StartTLS bool
	// TLS verifies the server; nil: the system's roots, the address's host
	// as server name.
	TLS *tls.Config
}

// sendMail makes one attempt of a mail delivery: the confirmation mail of
// a new subscriber or an event's mail, each with a fresh link.
func (s *Service) sendMail(ctx context.Context, d *Delivery) error {
	sub, err := s.store.Subscriber(d.Target)
	if err != nil {
		return err
	}
	if sub == nil || sub.Type != ChannelEmail {
		return errNoSubscriber
	}
	now := s.clock.Now()
	var subject, text, unsubscribe string
	switch d.Kind {
	case purposeConfirm:
		if sub.Confirmed {
			return errNoSubscriber // confirmed meanwhile: nothing to send
		}
		token, err := s.store.IssueToken(sub.ID, purposeConfirm, now.Add(ConfirmTTL))
		if err != nil {
			return err
		}
		subject, text = confirmMail(s.link("/subscribe/confirm", token), sub.Services)
	default:
		var e Event
		if err := json.Unmarshal(d.Body, &e); err != nil {
			return permanentError{fmt.Errorf("delivery %s: event: %w", d.ID, err)}
		}
		token, err := s.store.IssueToken(sub.ID, purposeUnsubscribe, time.Time{})
		if err != nil {
			return err
		}
		unsubscribe = s.link("/unsubscribe", token)
		subject, text = eventMail(&e, s.link("/", ""), unsubscribe)
	}
	msg, err := s.composeMail(sub.Email, subject, text, unsubscribe, d.ID, now)
	if err != nil {
		return permanentError{err}
	}
	return redactAddress(s.opts.SMTP.send(ctx, sub.Email, msg), sub.Email)
}

// redactAddress keeps a subscriber's address out of an error (a server's
// answer may quote it), since errors are logged.
func redactAddress(err error, addr string) error {
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(addr)) {
		return err
	}
	msg := err.Error()
	for i := strings.Index(strings.ToLower(msg), strings.ToLower(addr)); i >= 0; i = strings.Index(strings.ToLower(msg), strings.ToLower(addr)) {
		msg = msg[:i] + "<subscriber>" + msg[i+len(addr):]
	}
	var perm permanentError
	if errors.As(err, &perm) {
		return permanentError{errors.New(msg)}
	}
	return errors.New(msg)
}

// link is BaseURL + path, with the token as a query parameter if set.
func (s *Service) link(path, token string) string {
	u := strings.TrimSuffix(s.opts.BaseURL, "/") + path
	if token != "" {
		u += "?token=" + url.QueryEscape(token)
	}
	return u
}

func confirmMail(confirmURL string, services []string) (subject, text string) {
	what := "every service"
	if len(services) > 0 {
		what = strings.Join(services, ", ")
	}
	return "Confirm your status subscription",
		"Someone, hopefully you, asked to receive status updates by e-mail for " + what + ".\n\n" +
			"To confirm, open this link within 48 hours:\n\n" + confirmURL + "\n\n" +
			"If you did not ask for this, ignore this mail: nothing will be sent to you.\n"
}

// eventMail words an event for people.
func eventMail(e *Event, pageURL, unsubscribeURL string) (subject, text string) {
	var b strings.Builder
	switch {
	case e.Incident != nil:
		inc := e.Incident
		verb := map[EventType]string{IncidentOpened: "Incident", IncidentUpdated: "Update", IncidentResolved: "Resolved"}[e.Type]
		subject = verb + ": " + inc.Title
		fmt.Fprintf(&b, "%s\n\n", inc.Title)
		if u := inc.Update; u != nil {
			fmt.Fprintf(&b, "%s (%s UTC)\n", strings.ToUpper(string(u.Status[:1]))+string(u.Status[1:]), u.At.UTC().Format("2 Jan 15:04"))
			writeMessage(&b, u.Message)
		} else if inc.State != "" {
			fmt.Fprintf(&b, "State: %s\n", inc.State)
		}
		fmt.Fprintf(&b, "\nAffected: %s\nSince: %s UTC\n", affected(inc.Affected), inc.Start.UTC().Format("2 Jan 2006 15:04"))
		if inc.End != nil {
			fmt.Fprintf(&b, "Ended: %s UTC\n", inc.End.UTC().Format("2 Jan 2006 15:04"))
		}
	case e.Maintenance != nil:
		m := e.Maintenance
		verb := map[EventType]string{MaintenanceScheduled: "Maintenance scheduled", MaintenanceStarted: "Maintenance started",
			MaintenanceEnded: "Maintenance ended"}[e.Type]
		subject = verb + ": " + affected(m.Affected)
		fmt.Fprintf(&b, "%s\n\nAffected: %s\nFrom %s to %s UTC\n", verb, affected(m.Affected),
			m.Start.UTC().Format("2 Jan 2006 15:04"), m.End.UTC().Format("2 Jan 2006 15:04"))
		if m.Reason != "" {
			fmt.Fprintf(&b, "Reason: %s\n", m.Reason)
		}
	}
	fmt.Fprintf(&b, "\nStatus page: %s\n\n--\nYou receive this because you subscribed to status updates.\nUnsubscribe: %s\n", pageURL, unsubscribeURL)
	return subject, b.String()
}

// writeMessage writes English first, then the other languages by tag.
func writeMessage(b *strings.Builder, m Message) {
	langs := make([]string, 0, len(m))
	for l := range m {
		if l != "en" {
			langs = append(langs, l)
		}
	}
	sort.Strings(langs)
	if _, ok := m["en"]; ok {
		langs = append([]string{"en"}, langs...)
	}
	for _, l := range langs {
		fmt.Fprintf(b, "%s\n", m[l])
	}
}

func affected(refs []FeatureRef) string {
	if len(refs) == 0 {
		return "all services"
	}
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.Service
		if r.Feature != "" {
			names[i] += "/" + r.Feature
		}
	}
	return strings.Join(names, ", ")
}

// composeMail renders a text/plain mail, quoted-printable, with RFC 8058
// one-click unsubscribe headers when there is a link.
func (s *Service) composeMail(to, subject, text, unsubscribe, deliveryID string, now time.Time) ([]byte, error) {
	from, err := mail.ParseAddress(s.opts.SMTP.From)
	if err != nil {
		return nil, fmt.Errorf("from %q: %w", s.opts.SMTP.From, err)
	}
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", from.String())
	header("To", (&mail.Address{Address: to}).String())
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(subject)))
	header("Date", now.UTC().Format(time.RFC1123Z))
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	header("Message-ID", "<"+deliveryID+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	if unsubscribe != "" {
		header("List-Unsubscribe", "<"+unsubscribe+">")
		header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(text, "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// oneLine keeps a header value on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// send delivers one mail over a new connection.
func (c *SMTP) send(ctx context.Context, to string, msg []byte) error {
	host, _, err := net.SplitHostPort(c.Address)
	if err != nil {
		return permanentError{fmt.Errorf("smtp %s: %w", c.Address, err)}
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", c.Address)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", c.Address, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	var client *smtp.Client
	if c.StartTLS {
		cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if c.TLS != nil {
			cfg = c.TLS.Clone()
			if cfg.ServerName == "" {
				cfg.ServerName = host
			}
		}
		client, err = smtp.NewClientStartTLS(conn, cfg)
		if err == nil {
			// The handshake happens at the first write: make it now, so
			// that its error is named for what it is.
			if err = client.Noop(); err != nil {
				client.Close()
			}
		}
		if err != nil {
			_ = conn.Close()
			return fmt.Errorf("smtp %s: STARTTLS: %w", c.Address, err)
		}
	} else {
		client = smtp.NewClient(conn)
	}
	defer client.Close()
	if c.Username != "" {
		if err := client.Auth(sasl.NewPlainClient("", c.Username, c.Password)); err != nil {
			return fmt.Errorf("smtp %s: AUTH PLAIN as %s: %w", c.Address, c.Username, err)
		}
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return permanentError{fmt.Errorf("smtp from %q: %w", c.From, err)}
	}
	if err := client.SendMail(from.Address, []string{to}, bytes.NewReader(msg)); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code >= 500 && se.Code != 530 && se.Code != 535 {
			// A 5xx answer about this recipient or mail will not change.
			return permanentError{fmt.Errorf("smtp %s: send: %w", c.Address, err)}
		}
		return fmt.Errorf("smtp %s: send: %w", c.Address, err)
	}
	return client.Quit()
}
