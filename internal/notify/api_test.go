package notify

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

const writeToken = "0123456789abcdef-write"

// webConfig writes an exporter-toolkit web config with users alice
// (writer) and bob (reader), and returns its path.
func webConfig(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("basic_auth_users:\n")
	for _, u := range []string{"alice", "bob"} {
		h, err := bcrypt.GenerateFromPassword([]byte(u+"-password"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("  " + u + ": " + string(h) + "\n")
	}
	return writeFile(t, "web.yml", b.String())
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// fixtureIncident is apiFixture's automatic incident.
const fixtureIncident = "20221015T063300Z-datacenter-pangyo"

// apiFixture is a service with its routes on a mux, an automatic
// incident "20221015T063300Z-datacenter-pangyo" and services talk and map.
func apiFixture(t *testing.T, auth Authorizer, opts Options) (*fixture, *http.ServeMux) {
	t.Helper()
	opts.Incidents = func(id string, outages []OutageRef) (IncidentInfo, bool) {
		held := []OutageRef{{"talk", "message-send-receive", 7}, {"map", "roadview", 9}}
		found := id == fixtureIncident
		for _, o := range outages {
			found = found || slices.Contains(held, o)
		}
		if !found {
			return IncidentInfo{}, false
		}
		return IncidentInfo{ID: fixtureIncident, Title: "datacenter pangyo: 2 features down", State: "down", Start: t0,
			Affected: []FeatureRef{{Service: "talk", Feature: "message-send-receive"}, {Service: "map", Feature: "roadview"}},
			Outages:  held}, true
	}
	opts.Known = func(service, feature string) bool {
		switch service + "/" + feature {
		case "talk/", "map/", "talk/message-send-receive", "map/roadview":
			return true
		}
		return false
	}
	f := newFixture(t, opts)
	mux := http.NewServeMux()
	f.svc.Routes(mux, auth)
	return f, mux
}

func TestWriteAuth(t *testing.T) {
	both, err := NewWriteAuth(writeFile(t, "token", writeToken+"\n"), webConfig(t), []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	tokenOnly, err := NewWriteAuth(writeFile(t, "token", writeToken), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	none, err := NewWriteAuth("", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"status":"identified","message":"the cause is known"}`
	path := "/api/v1/incidents/20221015T063300Z-datacenter-pangyo/updates"
	for _, tc := range []struct {
		name   string
		auth   Authorizer
		header string
		status int
		errMsg string
	}{
		{"no credentials", both, "", 401, "send Authorization: Bearer"},
		{"wrong token", both, "Bearer not-the-token-at-all", 401, "bearer token is not valid"},
		{"right token", both, "Bearer " + writeToken, 201, ""},
		{"writer", both, basic("alice", "alice-password"), 201, ""},
		{"writer, wrong password", both, basic("alice", "nope"), 401, "not valid"},
		{"unknown user", both, basic("mallory", "x"), 401, "not valid"},
		{"reader", both, basic("bob", "bob-password"), 403, `user "bob" may read but not write`},
		{"token only, basic auth", tokenOnly, basic("alice", "alice-password"), 401, "not valid"},
		{"writes disabled", none, "Bearer " + writeToken, 403, "writes are disabled"},
		{"other scheme", both, "Digest x", 401, "Bearer or Basic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, mux := apiFixture(t, tc.auth, Options{})
			code, resp := do(t, mux, "POST", path, body, "Authorization", tc.header)
			if code != tc.status {
				t.Fatalf("status %d, want %d: %s", code, tc.status, resp)
			}
			if tc.errMsg != "" {
				var e struct{ Error string }
				if err := json.Unmarshal([]byte(resp), &e); err != nil || !strings.Contains(e.Error, tc.errMsg) {
					t.Errorf("body %s, want a JSON error containing %q", resp, tc.errMsg)
				}
			}
		})
	}
}

func TestWriteAuthConfigErrors(t *testing.T) {
	web := webConfig(t)
	for _, tc := range []struct {
		name, token, web string
		writers          []string
		want             string
	}{
		{"short token", writeFile(t, "t", "short"), "", nil, "at least 16 characters"},
		{"missing token file", "/nonexistent/token", "", nil, "/nonexistent/token"},
		{"writers without web config", "", "", []string{"alice"}, "no --web.config.file"},
		{"writer not a user", "", web, []string{"carol"}, `"carol" is not a user`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewWriteAuth(tc.token, tc.web, tc.writers)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func tokenAuth(t *testing.T) *WriteAuth {
	a, err := NewWriteAuth(writeFile(t, "token", writeToken), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Bad requests are 400 with an error naming the field.
func TestUpdateBadRequests(t *testing.T) {
	_, mux := apiFixture(t, tokenAuth(t), Options{})
	path := "/api/v1/incidents/20221015T063300Z-datacenter-pangyo/updates"
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{``, 400, "body is empty"},
		{`{"status":"identified"`, 400, "body is not JSON: it ends early"},
		{`{"status":"identified",}`, 400, "body is not JSON: invalid character '}'"},
		{`{"status":"fixed","message":"x"}`, 400, `status: "fixed" must be investigating, identified, monitoring or resolved`},
		{`{"status":"identified"}`, 400, "message: is required"},
		{`{"status":"identified","message":42}`, 400, `message: must be a string or an object of language to text like {"en": "...", "ko": "..."}, not number`},
		{`{"status":"identified","message":{"en":""}}`, 400, "message.en: is empty"},
		{`{"status":"identified","message":{"english":"x"}}`, 400, `"english" is not a language tag`},
		{`{"status":"identified","message":"x","colour":"red"}`, 400, `unknown field "colour"`},
		{`{"status":7,"message":"x"}`, 400, "status: must be a string, not number"},
		{`{"status":"identified","message":"x","author":"a\nb"}`, 400, "author"},
	} {
		code, resp := do(t, mux, "POST", path, tc.body, "Authorization", "Bearer "+writeToken)
		if code != tc.status || !strings.Contains(jsonError(resp), tc.want) {
			t.Errorf("body %s: got %d %s, want %d containing %q", tc.body, code, resp, tc.status, tc.want)
		}
	}
	code, resp := do(t, mux, "POST", "/api/v1/incidents/nope/updates", `{"status":"identified","message":"x"}`, "Authorization", "Bearer "+writeToken)
	if code != 404 || !strings.Contains(jsonError(resp), `no incident "nope"`) {
		t.Errorf("unknown incident: %d %s, want 404 naming it", code, resp)
	}
}

// Updates persist across a restart, are listed oldest first in both
// languages, and go to webhooks as signed events.
func TestUpdatesPersistAndPublish(t *testing.T) {
	rc := newReceiver(t, hookSecret)
	f, mux := apiFixture(t, tokenAuth(t), Options{Webhooks: []Webhook{{URL: rc.srv.URL, Secret: hookSecret}}})
	id := "20221015T063300Z-datacenter-pangyo"
	posts := []string{
		`{"status":"investigating","message":"Messages fail in Pangyo","author":"ops"}`,
		`{"status":"identified","message":{"en":"Power loss at the data center","ko":"데이터센터 전원 문제"}}`,
		`{"status":"resolved","message":"All recovered"}`,
	}
	for i, body := range posts {
		f.clock.Set(t0.Add(time.Duration(i) * time.Minute))
		if code, resp := do(t, mux, "POST", "/api/v1/incidents/"+id+"/updates", body, "Authorization", "Bearer "+writeToken); code != 201 {
			t.Fatalf("post %d: %d %s", i, code, resp)
		}
	}
	f.restart()
	mux = http.NewServeMux()
	f.svc.Routes(mux, tokenAuth(t))
	updates := f.store.Updates(id)
	if len(updates) != 3 {
		t.Fatalf("after restart %d updates, want 3", len(updates))
	}
	if updates[0].Status != Investigating || updates[0].Author != "ops" || updates[1].Message["ko"] != "데이터센터 전원 문제" ||
		updates[2].Status != Resolved || !updates[2].At.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("updates after restart: %+v", updates)
	}
	code, resp := do(t, mux, "GET", "/api/v1/incidents/"+id+"/updates", "")
	var list struct{ Updates []Update }
	if err := json.Unmarshal([]byte(resp), &list); code != 200 || err != nil || len(list.Updates) != 3 {
		t.Errorf("GET updates (no auth): %d %s", code, resp)
	}
	f.drain(5)
	_, badSig, unique := rc.snapshot()
	var got []string
	for _, u := range unique {
		got = append(got, u.event+":"+u.message)
	}
	want := "incident.updated:Messages fail in Pangyo,incident.updated:Power loss at the data center,incident.resolved:All recovered"
	if strings.Join(got, ",") != want || badSig != 0 {
		t.Errorf("webhook got %q (bad signatures %d), want %q", strings.Join(got, ","), badSig, want)
	}
}

// A manual incident opens with its first update, takes more, and ends
// with a resolved one.
func TestManualIncident(t *testing.T) {
	f, mux := apiFixture(t, tokenAuth(t), Options{})
	auth := []string{"Authorization", "Bearer " + writeToken}
	for _, tc := range []struct{ body, want string }{
		{`{"title":"Slow logins","services":["nope"],"message":"x"}`, `services[0]: "nope" is not a configured service`},
		{`{"title":"Slow logins","features":["talk"],"message":"x"}`, `features[0]: "talk" must be service/feature`},
		{`{"title":"Slow logins","features":["talk/nope"],"message":"x"}`, `features[0]: "talk/nope" is not a configured feature`},
		{`{"services":["talk"],"message":"x"}`, "title: is required"},
	} {
		if code, resp := do(t, mux, "POST", "/api/v1/incidents", tc.body, auth...); code != 400 || !strings.Contains(jsonError(resp), tc.want) {
			t.Errorf("%s: %d %s, want 400 containing %s", tc.body, code, resp, tc.want)
		}
	}
	code, resp := do(t, mux, "POST", "/api/v1/incidents",
		`{"title":{"en":"Slow logins","ko":"로그인 지연"},"services":["talk"],"features":["map/roadview"],"message":"Logins take 30 s","author":"kim"}`, auth...)
	var m ManualIncident
	if err := json.Unmarshal([]byte(resp), &m); code != 201 || err != nil {
		t.Fatalf("open: %d %s", code, resp)
	}
	if !strings.HasPrefix(m.ID, "m-20261015T063300Z-") || m.Status != Investigating || m.End != nil || len(m.Updates) != 1 ||
		len(m.Affected) != 2 || m.Title["ko"] != "로그인 지연" {
		t.Errorf("opened %+v", m)
	}
	f.clock.Set(t0.Add(10 * time.Minute))
	if code, resp := do(t, mux, "POST", "/api/v1/incidents/"+m.ID+"/updates", `{"status":"resolved","message":"Fixed"}`, auth...); code != 201 {
		t.Fatalf("resolve: %d %s", code, resp)
	}
	f.restart()
	all := f.store.ManualIncidents()
	if len(all) != 1 || all[0].Status != Resolved || all[0].End == nil || !all[0].End.Equal(t0.Add(10*time.Minute)) || len(all[0].Updates) != 2 {
		t.Errorf("after restart: %+v", all)
	}
}

// Webhook subscribers are added, listed without their secret and deleted
// with write credentials only.
func TestSubscribersAPI(t *testing.T) {
	_, mux := apiFixture(t, tokenAuth(t), Options{})
	auth := []string{"Authorization", "Bearer " + writeToken}
	if code, _ := do(t, mux, "POST", "/api/v1/subscribers", `{"type":"webhook","url":"http://127.0.0.1:1/x"}`); code != 401 {
		t.Errorf("add without credentials: %d, want 401", code)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"type":"email","url":"http://x"}`, `type: "email" must be webhook`},
		{`{"type":"webhook","url":"ftp://x"}`, "url: must be an http"},
		{`{"type":"webhook","url":"http://x","events":["incident.closed"]}`, `events[0]: unknown event "incident.closed"`},
		{`{"type":"webhook","url":"http://x","secret":"short"}`, "secret: at least 16"},
		{`{"type":"webhook","url":"http://x","services":["nope"]}`, `services[0]`},
	} {
		if code, resp := do(t, mux, "POST", "/api/v1/subscribers", tc.body, auth...); code != 400 || !strings.Contains(jsonError(resp), tc.want) {
			t.Errorf("%s: %d %s, want 400 containing %s", tc.body, code, resp, tc.want)
		}
	}
	code, resp := do(t, mux, "POST", "/api/v1/subscribers", `{"type":"webhook","url":"http://127.0.0.1:1/x","events":["incident.*"]}`, auth...)
	var added subscriberView
	if err := json.Unmarshal([]byte(resp), &added); code != 201 || err != nil || len(added.Secret) != 32 || !strings.HasPrefix(added.ID, "w") {
		t.Fatalf("add: %d %s, want 201 with a generated secret", code, resp)
	}
	code, resp = do(t, mux, "GET", "/api/v1/subscribers", "", auth...)
	if code != 200 || !strings.Contains(resp, added.ID) || strings.Contains(resp, added.Secret) {
		t.Errorf("list: %d %s, want the subscriber without its secret", code, resp)
	}
	if code, _ := do(t, mux, "DELETE", "/api/v1/subscribers/"+added.ID, "", auth...); code != 204 {
		t.Errorf("delete: %d, want 204", code)
	}
	if code, _ := do(t, mux, "DELETE", "/api/v1/subscribers/"+added.ID, "", auth...); code != 404 {
		t.Errorf("delete again: %d, want 404", code)
	}
}

// A webhook added over the API gets the events it chose, signed with its
// secret.
func TestAPIWebhookSubscriberReceives(t *testing.T) {
	secret := "a-secret-of-sixteen-plus"
	rc := newReceiver(t, secret)
	f, mux := apiFixture(t, tokenAuth(t), Options{})
	body := `{"type":"webhook","url":"` + rc.srv.URL + `","secret":"` + secret + `","events":["incident.resolved"]}`
	if code, resp := do(t, mux, "POST", "/api/v1/subscribers", body, "Authorization", "Bearer "+writeToken); code != 201 {
		t.Fatalf("add: %d %s", code, resp)
	}
	for _, e := range []Event{incidentEvent("inc-1", "not this"),
		{Type: IncidentResolved, Incident: &IncidentInfo{ID: "inc-1", State: "resolved"}}} {
		if err := f.svc.Publish(e); err != nil {
			t.Fatal(err)
		}
	}
	f.drain(5)
	_, badSig, unique := rc.snapshot()
	if len(unique) != 1 || unique[0].event != "incident.resolved" || badSig != 0 {
		t.Errorf("got %+v (bad signatures %d), want only incident.resolved", unique, badSig)
	}
}

// jsonError is the error field of a JSON error body.
func jsonError(body string) string {
	var e struct{ Error string }
	_ = json.Unmarshal([]byte(body), &e)
	return e.Error
}

// The routes sit beside the web server's on one mux (Go's mux panics on
// a conflict), and UpdatesOf reads several incidents' updates at once.
func TestRoutesBesideWebServer(t *testing.T) {
	f := newFixture(t, Options{})
	mux := http.NewServeMux()
	for _, p := range []string{"GET /metrics", "GET /-/healthy", "GET /-/ready", "POST /-/reload", "GET /api/v1/features",
		"GET /api/v1/outages", "GET /api/v1/report", "GET /api/v1/incidents", "GET /{$}", "GET /bulletin"} {
		mux.HandleFunc(p, func(http.ResponseWriter, *http.Request) {})
	}
	f.svc.Routes(mux, tokenAuth(t))
	for _, id := range []string{"a", "b", "a"} {
		if err := f.store.AddUpdate(&Update{IncidentID: id, Status: Monitoring, Message: Message{"en": id}}); err != nil {
			t.Fatal(err)
		}
	}
	got := f.store.UpdatesOf([]string{"a", "b", "c"})
	if len(got) != 2 || len(got["a"]) != 2 || len(got["b"]) != 1 || got["b"][0].Message["en"] != "b" {
		t.Errorf("UpdatesOf = %+v", got)
	}
}

// TestUpdatesFollowAGrownIncident: a grouped incident's id is its start and
// grouping label, which change as it grows; the updates posted under the
// old id stay with the incident that holds their outages, and the old id
// still takes updates.
func TestUpdatesFollowAGrownIncident(t *testing.T) {
	auth := []string{"Authorization", "Bearer " + writeToken}
	current := "20221015T063300Z-datacenter-pangyo"
	outages := []OutageRef{{"talk", "message-send-receive", 7}}
	f := newFixture(t, Options{Incidents: func(id string, recorded []OutageRef) (IncidentInfo, bool) {
		found := id == current
		for _, o := range recorded {
			found = found || slices.Contains(outages, o)
		}
		return IncidentInfo{ID: current, State: "down", Start: t0, Outages: slices.Clone(outages)}, found
	}})
	mux := http.NewServeMux()
	f.svc.Routes(mux, tokenAuth(t))
	first := current
	if code, resp := do(t, mux, "POST", "/api/v1/incidents/"+first+"/updates", `{"status":"investigating","message":"Messages fail"}`, auth...); code != 201 {
		t.Fatalf("post: %d %s", code, resp)
	}
	// A second feature joins, with a label the first shares: the incident
	// is now grouped by another label and has another id.
	current = "20221015T063300Z-tier-1"
	outages = append(outages, OutageRef{"map", "roadview", 9})
	f.clock.Set(t0.Add(time.Minute))
	code, resp := do(t, mux, "POST", "/api/v1/incidents/"+first+"/updates", `{"status":"identified","message":"Power loss"}`, auth...)
	var posted Update
	if err := json.Unmarshal([]byte(resp), &posted); code != 201 || err != nil || posted.IncidentID != current || len(posted.Outages) != 2 {
		t.Fatalf("post to the old id: %d %s, want 201 stored under %s with both outages", code, resp, current)
	}
	for _, id := range []string{current, first} {
		code, resp := do(t, mux, "GET", "/api/v1/incidents/"+id+"/updates", "")
		var list struct{ Updates []Update }
		if err := json.Unmarshal([]byte(resp), &list); code != 200 || err != nil || len(list.Updates) != 2 ||
			list.Updates[0].Status != Investigating || list.Updates[1].Status != Identified {
			t.Errorf("GET updates of %s: %d %s, want both, oldest first", id, code, resp)
		}
	}
	got, err := f.store.UpdatesFor(current, outages)
	if err != nil || len(got) != 2 || got[0].IncidentID != first || got[1].IncidentID != current {
		t.Errorf("UpdatesFor(%s) = %+v, %v", current, got, err)
	}
	// Another incident, sharing no outage, has none of them.
	if got, _ := f.store.UpdatesFor("20221016T000000Z-datacenter-ansan", []OutageRef{{"talk", "message-send-receive", 8}}); len(got) != 0 {
		t.Errorf("an unrelated incident got %+v", got)
	}
}
