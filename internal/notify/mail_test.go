package notify

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/vigil-monitoring/vigil/internal/testpki"
)

const (
	smtpUser     = "vigil"
	smtpPassword = "mail-password"
	subscriber   = "alice.kim@example.org"
)

// mailServer is a real SMTP server on loopback: STARTTLS with a test CA's
// certificate, AUTH PLAIN only after TLS.
type mailServer struct {
	addr string
	ca   *testpki.CA

	mu    sync.Mutex
	mails []receivedMail
}

type receivedMail struct {
	from, to string
	tls      bool
	msg      *mail.Message
	body     string // decoded
}

func newMailServer(t *testing.T) *mailServer {
	t.Helper()
	ms := &mailServer{ca: testpki.NewCA(t, "vigil notify test CA")}
	cert := ms.ca.Issue(t)
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &mailSession{server: ms, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); _ = ln.Close(); <-done })
	ms.addr = ln.Addr().String()
	return ms
}

func (ms *mailServer) smtpConfig() *SMTP {
	return &SMTP{Address: ms.addr, From: "Vigil Status <status@example.com>", Username: smtpUser, Password: smtpPassword,
		StartTLS: true, TLS: &tls.Config{RootCAs: ms.ca.Pool()}}
}

func (ms *mailServer) received() []receivedMail {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]receivedMail(nil), ms.mails...)
}

type mailSession struct {
	server   *mailServer
	conn     *smtp.Conn
	authed   bool
	from, to string
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != smtpUser || password != smtpPassword {
			return errors.New("invalid credentials")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = to; return nil }

func (s *mailSession) Data(r io.Reader) error {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.server.mu.Lock()
	defer s.server.mu.Unlock()
	s.server.mails = append(s.server.mails, receivedMail{from: s.from, to: s.to, tls: isTLS, msg: msg,
		body: strings.ReplaceAll(string(raw), "\r\n", "\n")})
	return nil
}

func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }

var linkRe = regexp.MustCompile(`http://127\.0\.0\.1:\d+/(subscribe/confirm|unsubscribe)\?token=[0-9a-f]+`)

// link finds the link to path in a mail.
func link(t *testing.T, m receivedMail, path string) string {
	t.Helper()
	for _, l := range linkRe.FindAllString(m.body, -1) {
		if strings.Contains(l, "/"+path+"?") {
			return l
		}
	}
	t.Fatalf("no %s link in the mail:\n%s", path, m.body)
	return ""
}

// The whole e-mail life: subscribe, confirm by the mailed link, receive an
// incident's mails (through STARTTLS and AUTH PLAIN), unsubscribe by the
// link in one, receive nothing more. The address never reaches the logs,
// /metrics or the API.
func TestEmailDoubleOptIn(t *testing.T) {
	ms := newMailServer(t)
	opts := Options{SMTP: ms.smtpConfig()}
	var f *fixture
	var mux *http.ServeMux
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { mux.ServeHTTP(w, r) }))
	defer web.Close()
	opts.BaseURL = web.URL
	f, mux = apiFixture(t, tokenAuth(t), opts)
	client := web.Client()

	post := func(path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", web.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+writeToken)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	if code, resp := post("/api/v1/subscribe", `{"email":"`+subscriber+`","services":["talk"]}`); code != 202 {
		t.Fatalf("subscribe: %d %s", code, resp)
	}
	// Before confirming, an incident sends nothing to the address.
	if err := f.svc.Publish(incidentEvent("inc-0", "before confirming")); err != nil {
		t.Fatal(err)
	}
	f.drain(5)
	mails := ms.received()
	if len(mails) != 1 {
		t.Fatalf("%d mails after subscribing, want only the confirmation", len(mails))
	}
	confirmMail := mails[0]
	if confirmMail.to != subscriber || confirmMail.from != "status@example.com" || !confirmMail.tls {
		t.Errorf("confirmation mail from %s to %s (TLS %v)", confirmMail.from, confirmMail.to, confirmMail.tls)
	}
	if subj := confirmMail.msg.Header.Get("Subject"); subj != "Confirm your status subscription" {
		t.Errorf("subject %q", subj)
	}
	confirmURL := link(t, confirmMail, "subscribe/confirm")
	if code, body := get(confirmURL); code != 200 || !strings.Contains(body, "Subscribed") {
		t.Fatalf("confirm: %d %s", code, body)
	}
	if code, _ := get(confirmURL); code != 404 {
		t.Errorf("a confirmation link used twice: %d, want 404", code)
	}

	// A manual incident on talk, then an update in two languages.
	code, resp := post("/api/v1/incidents", `{"title":"Messages delayed","services":["talk"],"message":"Messages arrive late"}`)
	if code != 201 {
		t.Fatalf("open incident: %d %s", code, resp)
	}
	var m ManualIncident
	_ = json.Unmarshal([]byte(resp), &m)
	if code, resp := post("/api/v1/incidents/"+m.ID+"/updates", `{"status":"identified","message":{"en":"A broker is full","ko":"브로커가 가득 찼습니다"}}`); code != 201 {
		t.Fatalf("update: %d %s", code, resp)
	}
	// An incident elsewhere is not for this subscriber.
	if err := f.svc.Publish(Event{Type: IncidentOpened, Incident: &IncidentInfo{ID: "x", Title: "Map down", Affected: []FeatureRef{{Service: "map"}}}}); err != nil {
		t.Fatal(err)
	}
	f.drain(5)
	mails = ms.received()
	if len(mails) != 3 {
		t.Fatalf("%d mails, want 3 (confirmation, opened, update)", len(mails))
	}
	opened, update := mails[1], mails[2]
	if subj := opened.msg.Header.Get("Subject"); subj != "Incident: Messages delayed" {
		t.Errorf("opened subject %q", subj)
	}
	dec := new(mime.WordDecoder)
	if subj, _ := dec.DecodeHeader(update.msg.Header.Get("Subject")); subj != "Update: Messages delayed" {
		t.Errorf("update subject %q", subj)
	}
	for _, want := range []string{"Identified (15 Oct 06:33 UTC)", "A broker is full\n브로커가 가득 찼습니다", "Affected: talk", "Status page: " + web.URL + "/"} {
		if !strings.Contains(update.body, want) {
			t.Errorf("update mail lacks %q:\n%s", want, update.body)
		}
	}
	unsubscribeURL := link(t, update, "unsubscribe")
	if lu := update.msg.Header.Get("List-Unsubscribe"); lu != "<"+unsubscribeURL+">" {
		t.Errorf("List-Unsubscribe %q, want the body's link", lu)
	}

	// GET shows a button (mail scanners open links); the button POSTs.
	code, body := get(unsubscribeURL)
	if code != 200 || !strings.Contains(body, `<form method="post" action="`+web.URL+`/unsubscribe">`) ||
		!strings.Contains(body, `<button type="submit">Unsubscribe</button>`) {
		t.Fatalf("unsubscribe page: %d %s", code, body)
	}
	if n := len(ms.received()); n != 3 || f.svc.store.PendingCount() != 0 {
		t.Fatalf("GET unsubscribed or sent something")
	}
	token := strings.TrimPrefix(unsubscribeURL[strings.Index(unsubscribeURL, "?"):], "?token=")
	resp2, err := client.PostForm(web.URL+"/unsubscribe", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != 200 || !strings.Contains(string(b), "Unsubscribed") {
		t.Fatalf("unsubscribe: %d %s", resp2.StatusCode, b)
	}
	if code, resp := post("/api/v1/incidents/"+m.ID+"/updates", `{"status":"resolved","message":"Delivered again"}`); code != 201 {
		t.Fatalf("resolve: %d %s", code, resp)
	}
	f.drain(5)
	if n := len(ms.received()); n != 3 {
		t.Errorf("%d mails after unsubscribing, want still 3", n)
	}
	if sub, _ := f.store.SubscriberByEmail(subscriber); sub != nil {
		t.Errorf("the address is still stored after unsubscribing: %+v", sub.ID)
	}

	// Personal data: not in logs, /metrics or the subscriber list.
	_, list := do(t, mux, "GET", "/api/v1/subscribers", "", "Authorization", "Bearer "+writeToken)
	for where, text := range map[string]string{"logs": f.logs.String(), "metrics": f.metrics(), "API": list} {
		if strings.Contains(strings.ToLower(text), "alice") {
			t.Errorf("the subscriber's address is in the %s:\n%s", where, text)
		}
	}
	if !strings.Contains(f.logs.String(), "e-mail subscription confirmed") || sample(f.metrics(), `vigil_notify_deliveries_total{channel="email",result="success"}`) != 3 {
		t.Errorf("logs or metrics do not show the mails:\n%s", f.logs)
	}
}

// The SMTP server refuses the password: the mail is retried, the log
// says why and shows no address.
func TestEmailAuthFailureRetries(t *testing.T) {
	ms := newMailServer(t)
	cfg := ms.smtpConfig()
	cfg.Password = "wrong"
	f := newFixture(t, Options{SMTP: cfg, BaseURL: "http://127.0.0.1:1", Delivery: DeliveryOptions{MaxAttempts: 2}})
	sub := Subscriber{ID: "s1", Type: ChannelEmail, Email: subscriber, Confirmed: true, Created: t0}
	if err := f.store.PutSubscriber(&sub); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Publish(incidentEvent("inc-1", "x")); err != nil {
		t.Fatal(err)
	}
	f.drain(5)
	logs := f.logs.String()
	if len(ms.received()) != 0 || !strings.Contains(logs, "AUTH PLAIN as vigil") || !strings.Contains(logs, "subscriber=s1") {
		t.Errorf("want no mail and a log naming AUTH and the subscriber id:\n%s", logs)
	}
	if strings.Contains(logs, "alice") {
		t.Errorf("address in logs:\n%s", logs)
	}
	if got := sample(f.metrics(), `vigil_notify_deliveries_total{channel="email",result="gave_up"}`); got != 1 {
		t.Errorf("gave_up = %v, want 1", got)
	}
}

// Without STARTTLS from the server, nothing is sent in clear text.
func TestEmailRequiresStartTLS(t *testing.T) {
	ms := newMailServer(t)
	cfg := ms.smtpConfig()
	cfg.TLS = &tls.Config{} // the system roots do not know the test CA
	f := newFixture(t, Options{SMTP: cfg, BaseURL: "http://127.0.0.1:1", Delivery: DeliveryOptions{MaxAttempts: 1}})
	if err := f.store.PutSubscriber(&Subscriber{ID: "s1", Type: ChannelEmail, Email: subscriber, Confirmed: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Publish(incidentEvent("inc-1", "x")); err != nil {
		t.Fatal(err)
	}
	f.drain(3)
	if len(ms.received()) != 0 || !strings.Contains(f.logs.String(), "STARTTLS") || !strings.Contains(f.logs.String(), "certificate") {
		t.Errorf("want no mail and a STARTTLS certificate error:\n%s", f.logs)
	}
}

// Subscribing is public but limited per client address, and refuses what
// is not a plain address.
func TestSubscribeValidationAndRateLimit(t *testing.T) {
	ms := newMailServer(t)
	f, mux := apiFixture(t, tokenAuth(t), Options{SMTP: ms.smtpConfig(), BaseURL: "http://127.0.0.1:1", SubscribeRequests: 3, SubscribePer: time.Hour})
	for _, tc := range []struct{ body, want string }{
		{`{"email":"Alice <alice@example.org>"}`, "email: not a plain e-mail address"},
		{`{"email":"not an address"}`, "email: not a plain e-mail address"},
		{`{"email":"a@example.org","services":["nope"]}`, `services[0]: "nope" is not a configured service`},
	} {
		if code, resp := do(t, mux, "POST", "/api/v1/subscribe", tc.body); code != 400 || !strings.Contains(jsonError(resp), tc.want) {
			t.Errorf("%s: %d %s, want 400 containing %s", tc.body, code, resp, tc.want)
		}
	}
	// The three requests above used the address's allowance.
	if code, _ := do(t, mux, "POST", "/api/v1/subscribe", `{"email":"b@example.org"}`); code != 429 {
		t.Errorf("4th request within the hour: %d, want 429", code)
	}
	f.clock.Set(t0.Add(20 * time.Minute)) // one request back (3 an hour)
	if code, resp := do(t, mux, "POST", "/api/v1/subscribe", `{"email":"b@example.org"}`); code != 202 {
		t.Errorf("after 20 minutes: %d %s, want 202", code, resp)
	}
	// An unconfirmed address is forgotten after ConfirmTTL.
	f.clock.Set(t0.Add(ConfirmTTL + time.Hour))
	if n, err := f.store.PruneUnconfirmed(f.clock.Now(), ConfirmTTL); n != 1 || err != nil {
		t.Errorf("pruned %d (%v), want 1", n, err)
	}
}

// Asking again for a pending address sends at most one confirmation an
// hour, whoever asks.
func TestConfirmationResendLimit(t *testing.T) {
	ms := newMailServer(t)
	f, mux := apiFixture(t, tokenAuth(t), Options{SMTP: ms.smtpConfig(), BaseURL: "http://127.0.0.1:1", SubscribeRequests: 100})
	for i, at := range []time.Duration{0, time.Minute, 59 * time.Minute, 61 * time.Minute} {
		f.clock.Set(t0.Add(at))
		req := httptest.NewRequest("POST", "/api/v1/subscribe", strings.NewReader(`{"email":"`+subscriber+`"}`))
		req.RemoteAddr = "127.0.0." + string(rune('1'+i)) + ":1234"
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != 202 {
			t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	f.drain(5)
	if n := len(ms.received()); n != 2 {
		t.Errorf("%d confirmation mails, want 2 (at 0 and 61 minutes)", n)
	}
}
