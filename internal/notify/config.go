package notify

import (
	"fmt"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// FromConfig turns the config's notify block (validated, defaults filled)
// into Options, reading the secret files and building the TLS config. The
// caller adds Store, Clock, Logger, Registerer, Incidents and Known.
func FromConfig(n *config.Notify) (Options, error) {
	var o Options
	if n == nil {
		return o, nil
	}
	o.BaseURL = n.BaseURL
	for i, h := range n.Webhooks {
		b, err := probeconfig.ReadConfigFile(h.SecretFile)
		if err != nil {
			return o, fmt.Errorf("notify.webhooks[%d].secret_file: %w", i, err)
		}
		o.Webhooks = append(o.Webhooks, Webhook{URL: h.URL, Secret: strings.TrimSpace(string(b)), Events: h.Events, Services: h.Services})
	}
	if s := n.SMTP; s != nil {
		password, err := s.SMTPPassword()
		if err != nil {
			return o, fmt.Errorf("notify.smtp: %w", err)
		}
		o.SMTP = &SMTP{Address: s.Address, From: s.From, Username: s.Username, Password: password.Reveal(), StartTLS: s.UseStartTLS()}
		if s.TLSConfig != nil {
			if o.SMTP.TLS, err = s.TLSConfig.Build(); err != nil {
				return o, fmt.Errorf("notify.smtp.tls_config: %w", err)
			}
		}
	}
	d := n.Delivery
	o.Delivery = DeliveryOptions{MaxAttempts: d.MaxAttempts, MaxAge: time.Duration(d.MaxAge), MinBackoff: time.Duration(d.MinBackoff),
		MaxBackoff: time.Duration(d.MaxBackoff), Timeout: time.Duration(d.Timeout), MaxPending: d.MaxPending}
	o.SubscribeRequests, o.SubscribePer = n.SubscribeRate.Requests, time.Duration(n.SubscribeRate.Per)
	return o, nil
}
