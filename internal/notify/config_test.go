package notify

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/config"
)

// The config's list of event names is this package's.
func TestEventNamesMatchConfig(t *testing.T) {
	if fmt.Sprint(EventTypes) != fmt.Sprint(config.NotifyEvents) {
		t.Errorf("EventTypes %v, config.NotifyEvents %v", EventTypes, config.NotifyEvents)
	}
}

func TestFromConfig(t *testing.T) {
	dir := t.TempDir()
	secret, password := filepath.Join(dir, "hook.secret"), filepath.Join(dir, "smtp.password")
	_ = os.WriteFile(secret, []byte("hook-secret\n"), 0o600)
	_ = os.WriteFile(password, []byte("mail-password\n"), 0o600)
	yml := fmt.Sprintf(`agent: {region: kr-central-1}
notify:
  base_url: https://status.example.com
  webhooks:
    - {url: "https://hooks.example.com/v", secret_file: %s, events: [incident.*]}
  smtp: {address: "smtp.example.com:587", from: "Vigil <status@example.com>", username: vigil, password_file: %s}
  delivery: {max_attempts: 5, min_backoff: 1s}
services:
  - name: talk
    features:
      - name: send
        checks:
          - {name: api, http: {url: "http://127.0.0.1:8080/health"}}
`, secret, password)
	c, err := config.Parse("vigil.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	o, err := FromConfig(c.Notify)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Webhooks) != 1 || o.Webhooks[0].Secret != "hook-secret" || o.Webhooks[0].Events[0] != "incident.*" {
		t.Errorf("webhooks %+v", o.Webhooks)
	}
	if o.SMTP == nil || o.SMTP.Password != "mail-password" || !o.SMTP.StartTLS || o.SMTP.Username != "vigil" {
		t.Errorf("smtp %+v", o.SMTP)
	}
	if o.Delivery.MaxAttempts != 5 || o.Delivery.MinBackoff != time.Second || o.Delivery.MaxBackoff != 10*time.Minute || o.BaseURL != "https://status.example.com" {
		t.Errorf("delivery %+v, base %s", o.Delivery, o.BaseURL)
	}
}
