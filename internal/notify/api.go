package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/vigil-monitoring/vigil/internal/config"
)

// maxRequestBytes bounds a request body of the API.
const maxRequestBytes = 64 << 10

// Routes mounts the endpoints on mux: writes behind auth, reads and the
// public subscription endpoints without. The web server's GET
// /api/v1/incidents stays where it is; POST on the same path is here.
func (s *Service) Routes(mux *http.ServeMux, auth Authorizer) {
	write := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if err := auth.AuthorizeWrite(r); err != nil {
				RefuseWrite(w, err)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("POST /api/v1/incidents", write(s.openIncident))
	mux.HandleFunc("POST /api/v1/incidents/{id}/updates", write(s.addUpdate))
	mux.HandleFunc("GET /api/v1/incidents/{id}/updates", s.listUpdates)
	mux.HandleFunc("POST /api/v1/subscribers", write(s.addSubscriber))
	mux.HandleFunc("GET /api/v1/subscribers", write(s.listSubscribers))
	mux.HandleFunc("DELETE /api/v1/subscribers/{id}", write(s.deleteSubscriber))
	mux.HandleFunc("POST /api/v1/subscribe", s.subscribe)
	mux.HandleFunc("GET /subscribe/confirm", s.confirm)
	mux.HandleFunc("GET /unsubscribe", s.unsubscribeForm)
	mux.HandleFunc("POST /unsubscribe", s.unsubscribe)
}

// RefuseWrite answers a write that err (from an Authorizer) refused: the
// AuthError's status (401 asks for credentials), else 403, with
// {"error": ...}.
func RefuseWrite(w http.ResponseWriter, err error) {
	var ae *AuthError
	if !errors.As(err, &ae) {
		ae = &AuthError{http.StatusForbidden, err.Error()}
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vigil", Basic realm="vigil"`)
	}
	writeError(w, ae.Status, "%s", ae.Msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// decode reads a JSON body into v, refusing unknown fields; the error
// names the field at fault.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err == nil {
		return true
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		writeError(w, http.StatusBadRequest, "%s: must be %s, not %s", typeErr.Field, typeName(typeErr.Type), typeErr.Value)
	case errors.As(err, &syntaxErr):
		writeError(w, http.StatusBadRequest, "body is not JSON: %v at byte %d", syntaxErr, syntaxErr.Offset)
	case errors.As(err, &maxErr):
		writeError(w, http.StatusRequestEntityTooLarge, "body is larger than %d bytes", maxRequestBytes)
	case errors.Is(err, io.ErrUnexpectedEOF):
		writeError(w, http.StatusBadRequest, "body is not JSON: it ends early")
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, "body is empty: a JSON object is required")
	default:
		// Unknown fields ("json: unknown field \"x\""), and errors that
		// a field's own decoder (Message) returned, wrapped by json with
		// the field's path.
		writeError(w, http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return false
}

// typeName says what JSON a Go type takes.
func typeName(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[Message]():
		return `a string or an object of language to text like {"en": "...", "ko": "..."}`
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice:
		return "a list"
	}
	return t.Kind().String()
}

// updateRequest is the body of POST /api/v1/incidents/{id}/updates.
type updateRequest struct {
	Status  Status  `json:"status"`
	Message Message `json:"message"`
	Author  string  `json:"author"`
}

func (u *updateRequest) check() error {
	if !u.Status.Valid() {
		return fmt.Errorf("status: %q must be investigating, identified, monitoring or resolved", u.Status)
	}
	if err := u.Message.check("message"); err != nil {
		return err
	}
	return checkAuthor(u.Author)
}

func checkAuthor(author string) error {
	if len(author) > 200 || strings.ContainsAny(author, "\r\n") {
		return errors.New("author: at most 200 characters on one line")
	}
	return nil
}

// addUpdate serves POST /api/v1/incidents/{id}/updates.
func (s *Service) addUpdate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req updateRequest
	if !decode(w, r, &req) {
		return
	}
	if err := req.check(); err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	info, ok := s.incident(id)
	if !ok {
		writeError(w, http.StatusNotFound, "no incident %q: see GET /api/v1/incidents for the ids", id)
		return
	}
	u := Update{IncidentID: info.ID, Status: req.Status, Message: req.Message, Author: req.Author, At: s.clock.Now().UTC(),
		Outages: info.Outages}
	if err := s.store.AddUpdate(&u); err != nil {
		s.log.Error("notify: cannot store an incident update", "incident", id, "err", err)
		writeError(w, http.StatusInternalServerError, "cannot store the update: %v", err)
		return
	}
	info.Status, info.Update = u.Status, &u
	if info.Manual {
		info, _ = s.incident(id) // its end and status as the update left them
		info.Update = &u
	}
	typ := IncidentUpdated
	if u.Status == Resolved {
		typ = IncidentResolved
	}
	if err := s.Publish(Event{Type: typ, At: u.At, Incident: &info}); err != nil {
		s.log.Error("notify: cannot queue the update's deliveries", "incident", id, "err", err)
	}
	writeJSON(w, http.StatusCreated, u)
}

// incident finds a manual incident, else an automatic one: by id, or, for
// an id an incident had when updates were posted to it, the incident that
// now holds one of the outages those updates recorded.
func (s *Service) incident(id string) (IncidentInfo, bool) {
	if m, ok := s.store.ManualIncident(id); ok {
		return m.info(), true
	}
	if s.opts.Incidents != nil {
		return s.opts.Incidents(id, s.store.OutagesOf(id))
	}
	return IncidentInfo{}, false
}

// info is what events say of a manual incident.
func (m *ManualIncident) info() IncidentInfo {
	state := "open"
	if m.End != nil {
		state = "resolved"
	}
	return IncidentInfo{ID: m.ID, Title: m.Title.In("en"), State: state, Status: m.Status, Manual: true,
		Affected: m.Affected, Start: m.Start, End: m.End}
}

// listUpdates serves GET /api/v1/incidents/{id}/updates.
func (s *Service) listUpdates(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var updates []Update
	var err error
	if info, ok := s.incident(id); ok && !info.Manual {
		updates, err = s.store.UpdatesFor(info.ID, info.Outages)
	} else {
		updates, err = s.store.updates(id)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	if updates == nil {
		updates = []Update{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"updates": updates})
}

// incidentRequest is the body of POST /api/v1/incidents.
type incidentRequest struct {
	Title Message `json:"title"`
	// Services and Features ("service/feature") are what it affects.
	Services []string `json:"services"`
	Features []string `json:"features"`
	Status   Status   `json:"status"`
	Message  Message  `json:"message"`
	Author   string   `json:"author"`
}

// openIncident serves POST /api/v1/incidents: a manual incident.
func (s *Service) openIncident(w http.ResponseWriter, r *http.Request) {
	var req incidentRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Status == "" {
		req.Status = Investigating
	}
	affected, err := s.affected(req.Services, req.Features)
	if err == nil {
		err = req.Title.check("title")
	}
	if err == nil {
		err = (&updateRequest{Status: req.Status, Message: req.Message, Author: req.Author}).check()
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	now := s.clock.Now().UTC()
	m := ManualIncident{ID: "m-" + now.Format("20060102T150405Z") + "-" + randomID("")[:8], Title: req.Title,
		Affected: affected, Status: req.Status, Author: req.Author, Start: now}
	u := Update{IncidentID: m.ID, Status: req.Status, Message: req.Message, Author: req.Author, At: now}
	if req.Status == Resolved {
		m.End = &now
	}
	m.Updates = []Update{u}
	if err := s.store.AddManualIncident(&m); err != nil {
		s.log.Error("notify: cannot store a manual incident", "err", err)
		writeError(w, http.StatusInternalServerError, "cannot store the incident: %v", err)
		return
	}
	info := m.info()
	info.Update = &m.Updates[0]
	if err := s.Publish(Event{Type: IncidentOpened, At: now, Incident: &info}); err != nil {
		s.log.Error("notify: cannot queue the incident's deliveries", "incident", m.ID, "err", err)
	}
	writeJSON(w, http.StatusCreated, m)
}

// affected checks and joins the services and features a request names.
func (s *Service) affected(services, features []string) ([]FeatureRef, error) {
	var out []FeatureRef
	for i, name := range services {
		if name == "" || s.opts.Known != nil && !s.opts.Known(name, "") {
			return nil, fmt.Errorf("services[%d]: %q is not a configured service", i, name)
		}
		out = append(out, FeatureRef{Service: name})
	}
	for i, sf := range features {
		service, feature, ok := strings.Cut(sf, "/")
		if !ok || service == "" || feature == "" {
			return nil, fmt.Errorf("features[%d]: %q must be service/feature", i, sf)
		}
		if s.opts.Known != nil && !s.opts.Known(service, feature) {
			return nil, fmt.Errorf("features[%d]: %q is not a configured feature", i, sf)
		}
		out = append(out, FeatureRef{Service: service, Feature: feature})
	}
	return out, nil
}

// subscriberRequest is the body of POST /api/v1/subscribers.
type subscriberRequest struct {
	Type     string   `json:"type"`
	URL      string   `json:"url"`
	Secret   string   `json:"secret"`
	Events   []string `json:"events"`
	Services []string `json:"services"`
}

// subscriberView is a subscriber as the API shows it: never an address or
// a secret.
type subscriberView struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	URL       string    `json:"url,omitempty"`
	Events    []string  `json:"events,omitempty"`
	Services  []string  `json:"services,omitempty"`
	Confirmed bool      `json:"confirmed"`
	Created   time.Time `json:"created"`
	// Secret is shown once, when Vigil made it.
	Secret string `json:"secret,omitempty"`
}

func view(sub *Subscriber) subscriberView {
	return subscriberView{ID: sub.ID, Type: sub.Type, URL: sub.URL, Events: sub.Events, Services: sub.Services,
		Confirmed: sub.Confirmed, Created: sub.Created}
}

// addSubscriber serves POST /api/v1/subscribers: a webhook.
func (s *Service) addSubscriber(w http.ResponseWriter, r *http.Request) {
	var req subscriberRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Type != ChannelWebhook {
		writeError(w, http.StatusBadRequest, "type: %q must be webhook (e-mail subscribers use POST /api/v1/subscribe)", req.Type)
		return
	}
	if u, err := url.Parse(req.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		writeError(w, http.StatusBadRequest, "url: must be an http:// or https:// URL")
		return
	}
	for i, e := range req.Events {
		if !config.ValidNotifyEvent(e) {
			writeError(w, http.StatusBadRequest, "events[%d]: unknown event %q", i, e)
			return
		}
	}
	if _, err := s.affected(req.Services, nil); err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	generated := req.Secret == ""
	if generated {
		req.Secret = randomID("")
	} else if len(req.Secret) < 16 {
		writeError(w, http.StatusBadRequest, "secret: at least 16 characters (or leave it out and Vigil makes one)")
		return
	}
	sub := Subscriber{ID: randomID("w"), Type: ChannelWebhook, URL: req.URL, Secret: req.Secret, Events: req.Events,
		Services: req.Services, Confirmed: true, Created: s.clock.Now().UTC()}
	if err := s.store.PutSubscriber(&sub); err != nil {
		writeError(w, http.StatusInternalServerError, "cannot store the subscriber: %v", err)
		return
	}
	s.log.Info("notify: webhook subscriber added", "subscriber", sub.ID, "host", redactURL(sub.URL))
	v := view(&sub)
	if generated {
		v.Secret = sub.Secret
	}
	writeJSON(w, http.StatusCreated, v)
}

// listSubscribers serves GET /api/v1/subscribers (write credentials: it
// shows webhook URLs). E-mail subscribers show without their address.
func (s *Service) listSubscribers(w http.ResponseWriter, _ *http.Request) {
	subs, err := s.store.Subscribers()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	out := make([]subscriberView, 0, len(subs))
	for i := range subs {
		out = append(out, view(&subs[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscribers": out})
}

func (s *Service) deleteSubscriber(w http.ResponseWriter, r *http.Request) {
	found, err := s.store.DeleteSubscriber(r.PathValue("id"))
	switch {
	case err != nil:
		writeError(w, http.StatusInternalServerError, "%v", err)
	case !found:
		writeError(w, http.StatusNotFound, "no subscriber %q", r.PathValue("id"))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// subscribeRequest is the body of POST /api/v1/subscribe.
type subscribeRequest struct {
	Email    string   `json:"email"`
	Services []string `json:"services"`
}

// confirmResendAfter is the least time between two confirmation mails to
// one address.
const confirmResendAfter = time.Hour

// maxEmailBytes is RFC 5321's limit on a path.
const maxEmailBytes = 254

// subscribe serves POST /api/v1/subscribe: public, rate limited per client
// address. The answer is the same whether the address is new, pending or
// subscribed, so it tells nobody who subscribed.
func (s *Service) subscribe(w http.ResponseWriter, r *http.Request) {
	if s.opts.SMTP == nil {
		writeError(w, http.StatusNotFound, "e-mail subscriptions are not enabled on this status page")
		return
	}
	if !s.limiter.allow(clientIP(r), s.clock.Now()) {
		w.Header().Set("Retry-After", fmt.Sprint(int(s.opts.SubscribePer.Seconds())))
		writeError(w, http.StatusTooManyRequests, "too many subscription requests from your address; try again later")
		return
	}
	var req subscribeRequest
	if !decode(w, r, &req) {
		return
	}
	addr, err := mail.ParseAddress(req.Email)
	if err != nil || addr.Address != strings.TrimSpace(req.Email) || len(addr.Address) > maxEmailBytes || addr.Name != "" {
		writeError(w, http.StatusBadRequest, "email: not a plain e-mail address like name@example.com")
		return
	}
	if _, err := s.affected(req.Services, nil); err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	existing, err := s.store.SubscriberByEmail(addr.Address)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "cannot read subscribers")
		s.log.Error("notify: cannot look a subscriber up", "err", err)
		return
	}
	sub := existing
	if sub == nil {
		sub = &Subscriber{ID: randomID("s"), Type: ChannelEmail, Email: addr.Address, Created: s.clock.Now().UTC()}
	}
	// A subscriber's services change only through a confirmed link, so a
	// stranger cannot change what someone else receives.
	now := s.clock.Now()
	if !sub.Confirmed && now.Sub(sub.ConfirmRequested) >= confirmResendAfter {
		sub.Services, sub.ConfirmRequested = req.Services, now
		if err := s.store.PutSubscriber(sub); err != nil {
			writeError(w, http.StatusInternalServerError, "cannot store the subscription")
			s.log.Error("notify: cannot store a subscriber", "subscriber", sub.ID, "err", err)
			return
		}
		if err := s.queueConfirmation(sub.ID); err != nil {
			s.log.Error("notify: cannot queue a confirmation mail", "subscriber", sub.ID, "err", err)
		}
		s.log.Info("notify: e-mail subscription requested", "subscriber", sub.ID)
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "check your mailbox: a confirmation link was sent unless this address is already subscribed"})
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{.Title}}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem">
<h1>{{.Title}}</h1><p>{{.Text}}</p>
{{if .Token}}<form method="post" action="{{.Action}}"><input type="hidden" name="token" value="{{.Token}}">
<button type="submit">Unsubscribe</button></form>{{end}}
<p><a href="{{.Home}}">Status page</a></p></body></html>
`))

// page answers with a small HTML page; links go through BaseURL, so they
// work behind a proxy's path prefix.
func (s *Service) page(w http.ResponseWriter, status int, title, text, token string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = pageTemplate.Execute(w, map[string]string{"Title": title, "Text": text, "Token": token,
		"Home": s.link("/", ""), "Action": s.link("/unsubscribe", "")})
}

// confirm serves GET /subscribe/confirm?token=.
func (s *Service) confirm(w http.ResponseWriter, r *http.Request) {
	id, err := s.store.Confirm(r.URL.Query().Get("token"), s.clock.Now())
	if err != nil {
		if !errors.Is(err, errBadToken) {
			s.log.Error("notify: cannot confirm a subscription", "err", err)
		}
		s.page(w, http.StatusNotFound, "Link not valid", "This confirmation link is not valid: it was used already, has expired (after 48 hours) or was cut short. Subscribe again to get a new one.", "")
		return
	}
	s.log.Info("notify: e-mail subscription confirmed", "subscriber", id)
	s.page(w, http.StatusOK, "Subscribed", "Your subscription is confirmed. Every mail carries a link to unsubscribe.", "")
}

// unsubscribeForm serves GET /unsubscribe?token=: a button, not the deed,
// since mail scanners open links; the button (and RFC 8058 one-click
// clients) POST.
func (s *Service) unsubscribeForm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if !s.store.CheckToken(token, purposeUnsubscribe, s.clock.Now()) {
		s.page(w, http.StatusNotFound, "Link not valid", "This unsubscribe link is not valid: you may have unsubscribed already.", "")
		return
	}
	s.page(w, http.StatusOK, "Unsubscribe", "Stop receiving status mails at this address?", token)
}

// unsubscribe serves POST /unsubscribe with the token in the form or the
// query (RFC 8058 one-click).
func (s *Service) unsubscribe(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
	token := r.FormValue("token")
	id, err := s.store.Unsubscribe(token, s.clock.Now())
	if err != nil {
		if !errors.Is(err, errBadToken) {
			s.log.Error("notify: cannot unsubscribe", "err", err)
		}
		s.page(w, http.StatusNotFound, "Link not valid", "This unsubscribe link is not valid: you may have unsubscribed already.", "")
		return
	}
	s.log.Info("notify: e-mail subscriber unsubscribed", "subscriber", id)
	s.page(w, http.StatusOK, "Unsubscribed", "You will receive no more status mails. Your address was deleted.", "")
}

// clientIP is the connection's address: X-Forwarded-For is not trusted,
// since anyone may set it.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ipLimiter is a token bucket per client address, on the service's clock.
type ipLimiter struct {
	mu      sync.Mutex
	every   rate.Limit
	burst   int
	buckets map[string]*rate.Limiter
}

// maxLimiterEntries bounds the addresses remembered; past it, those whose
// bucket is full again are forgotten.
const maxLimiterEntries = 10000

func newIPLimiter(requests int, per time.Duration) *ipLimiter {
	return &ipLimiter{every: rate.Limit(float64(requests) / per.Seconds()), burst: requests, buckets: map[string]*rate.Limiter{}}
}

func (l *ipLimiter) allow(ip string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[ip]
	if !ok {
		if len(l.buckets) >= maxLimiterEntries {
			for k, v := range l.buckets {
				if v.TokensAt(now) >= float64(l.burst) {
					delete(l.buckets, k)
				}
			}
			if len(l.buckets) >= maxLimiterEntries {
				return false
			}
		}
		b = rate.NewLimiter(l.every, l.burst)
		l.buckets[ip] = b
	}
	return b.AllowN(now, 1)
}
