package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNotifyDefaults: a minimal notify block gets the delivery and
// subscribe-rate defaults; web and notify stay nil when left out.
func TestNotifyDefaults(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "hook.secret")
	if err := os.WriteFile(secret, []byte("hook-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Parse("vigil.yml", globalConfig("notify:\n  webhooks:\n    - {url: \"https://hooks.example.com/v\", secret_file: "+secret+", events: [incident.opened, maintenance.*], services: [talk]}"))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Notify.Delivery
	if d.MaxAttempts != 12 || time.Duration(d.MaxAge) != 24*time.Hour || time.Duration(d.MinBackoff) != 10*time.Second ||
		time.Duration(d.MaxBackoff) != 10*time.Minute || time.Duration(d.Timeout) != 10*time.Second || d.MaxPending != 10000 {
		t.Errorf("delivery defaults: %+v", d)
	}
	if r := c.Notify.SubscribeRate; r.Requests != 5 || time.Duration(r.Per) != time.Hour {
		t.Errorf("subscribe_rate defaults: %+v", r)
	}
	c, err = Parse("vigil.yml", globalConfig("notify:\n  base_url: \"https://status.example.com\"\n  smtp: {address: \"127.0.0.1:25\", from: \"Vigil <s@example.com>\", starttls: false, tls_config: {insecure_skip_verify: true}}"))
	if err != nil || c.Notify.SMTP.UseStartTLS() || !c.Notify.SMTP.TLSConfig.InsecureSkipVerify {
		t.Errorf("smtp with starttls: false: %v %+v", err, c.Notify)
	}
	c, err = Parse("vigil.yml", globalConfig(""))
	if err != nil || c.Notify != nil || c.Web.WriteTokenFile != "" || c.Web.Writers != nil {
		t.Errorf("no blocks: %v, notify %v, web %v", err, c.Notify, c.Web)
	}
}

// TestNotifyErrors: each mistake names the file, line and key.
func TestNotifyErrors(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ block, want string }{
		{"web: {write_token_file: /nonexistent/token}", "vigil.yml:3: web.write_token_file: cannot read: /nonexistent/token"},
		{"web: {write_token_file: " + short + "}", "web.write_token_file: " + short + ": the token must be at least 16 characters"},
		{"notify:\n  webhooks:\n    - {url: \"ftp://x\", secret_file: " + short + "}", "vigil.yml:5: notify.webhooks[0].url: must be an http:// or https:// URL"},
		{"notify:\n  webhooks:\n    - {url: \"http://x\"}", "notify.webhooks[0].secret_file: is required"},
		{"notify:\n  webhooks:\n    - {url: \"http://x\", secret_file: " + short + ", events: [incident.closed]}", `notify.webhooks[0].events[0]: unknown event "incident.closed"`},
		{"notify:\n  webhooks:\n    - {url: \"http://x\", secret_file: " + short + ", services: [mail]}", `notify.webhooks[0].services[0]: "mail" is not a configured service`},
		{"notify:\n  smtp: {address: smtp.example.com, from: status@example.com}", `notify.smtp.address: "smtp.example.com" must be host:port`},
		{"notify:\n  smtp: {address: \"smtp.example.com:587\", from: nobody}", `notify.smtp.from: "nobody" is not a mail address`},
		{"notify:\n  smtp: {address: \"smtp.example.com:587\", from: status@example.com}", "notify.base_url: is required with notify.smtp"},
		{"notify:\n  base_url: \"https://s\"\n  smtp: {address: \"smtp.example.com:587\", from: status@example.com, password_file: /nonexistent/pw}", "notify.smtp.password_file: cannot read secret file"},
		{"notify:\n  base_url: status.example.com", `notify.base_url: "status.example.com" must be an http:// or https:// URL`},
		{"notify:\n  delivery: {max_attempts: 0}", "notify.delivery.max_attempts: must be > 0"},
		{"notify:\n  delivery: {min_backoff: 1h, max_backoff: 1m}", "notify.delivery.max_backoff: 1m must not be less than min_backoff 1h"},
		{"notify:\n  colour: red", "notify.colour"},
	} {
		_, err := Parse("vigil.yml", globalConfig(tc.block))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.block, err, tc.want)
		}
	}
}
