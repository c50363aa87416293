package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// The headers of a webhook delivery.
const (
	HeaderSignature = "X-Vigil-Signature"
	HeaderEvent     = "X-Vigil-Event"
	HeaderDelivery  = "X-Vigil-Delivery"
)

// maxResponseBytes is what is read of a receiver's answer (and thrown away),
// so that the connection can be reused.
const maxResponseBytes = 64 << 10

// Sign is the X-Vigil-Signature of body: "sha256=" and the hex HMAC-SHA256
// of the body with the secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether header is body's signature with secret,
// in constant time: what a receiver does.
func VerifySignature(secret string, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
}

// postWebhook makes one attempt: a 2xx answer is success, 410 Gone a
// permanent failure, anything else (another status, no answer) a failure
// to retry.
func (s *Service) postWebhook(ctx context.Context, target, secret string, d *Delivery) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(d.Body))
	if err != nil {
		return permanentError{fmt.Errorf("webhook %s: %w", redactURL(target), err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Vigil-Webhook/1")
	req.Header.Set(HeaderEvent, string(d.EventType))
	req.Header.Set(HeaderDelivery, d.ID)
	req.Header.Set(HeaderSignature, Sign(secret, d.Body))
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", redactURL(target), unwrapURLError(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusGone:
		return permanentError{fmt.Errorf("webhook %s: %s (the receiver asks to stop)", redactURL(target), resp.Status)}
	}
	return fmt.Errorf("webhook %s: %s", redactURL(target), resp.Status)
}

// redactURL keeps only scheme, host and port: a webhook's path and query
// often hold a secret (Slack's, Teams').
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host + "/..."
}

// unwrapURLError drops the *url.Error around a client error: it would
// repeat the whole URL.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
