package notify

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strings"
)

// SendReport mails a scheduled report (config `reports:`) to one address
// through notify.smtp: a short text part and the report attached as
// filename. It is sent at once, not queued: the report's schedule retries
// a failed delivery at the agent's next start. The address is kept out of
// the error.
func (s *Service) SendReport(ctx context.Context, to, subject, filename, contentType string, report []byte) error {
	if s.opts.SMTP == nil {
		return errors.New("no mail server: set notify.smtp")
	}
	from, err := mail.ParseAddress(s.opts.SMTP.From)
	if err != nil {
		return fmt.Errorf("from %q: %w", s.opts.SMTP.From, err)
	}
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", from.String())
	header("To", (&mail.Address{Address: to}).String())
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(subject)))
	header("Date", s.clock.Now().UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	header("MIME-Version", "1.0")
	header("Content-Type", "multipart/mixed; boundary="+w.Boundary())
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	text, err := w.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=utf-8"}})
	if err != nil {
		return err
	}
	fmt.Fprintf(text, "%s\r\n\r\nThe report is attached (%s).\r\n", subject, filename)
	att, err := w.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {contentType},
		"Content-Transfer-Encoding": {"base64"},
		"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": filename})},
	})
	if err != nil {
		return err
	}
	enc := base64.StdEncoding.EncodeToString(report)
	for len(enc) > 76 {
		fmt.Fprintf(att, "%s\r\n", enc[:76])
		enc = enc[76:]
	}
	fmt.Fprintf(att, "%s\r\n", enc)
	if err := w.Close(); err != nil {
		return err
	}
	return redactAddress(s.opts.SMTP.send(ctx, to, b.Bytes()), to)
}

// ReportFileName is the attachment name of a scheduled report: name,
// period and the format's extension.
func ReportFileName(name, period, format string) string {
	ext := map[string]string{"markdown": "md", "csv": "csv", "json": "json", "html": "html", "pdf": "pdf"}[format]
	if ext == "" {
		ext = "txt"
	}
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, name)
	return "vigil-" + clean + "-" + period + "." + ext
}
