package httpprobe

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"time"
)

// tlsError gives a certificate failure a short text ("tls: certificate expired
// at ...") in place of Go's long one, keeping the original for errors.As.
type tlsError struct {
	msg string
	err error
}

func (e *tlsError) Error() string { return e.msg }

func (e *tlsError) Unwrap() error { return e.err }

// describeTLS returns err with a short text when it is a certificate
// verification failure, and err itself otherwise.
func describeTLS(err error) error {
	var (
		invalid  x509.CertificateInvalidError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
	)
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired && invalid.Cert != nil:
		if time.Now().After(invalid.Cert.NotAfter) {
			return &tlsError{"tls: certificate expired at " + invalid.Cert.NotAfter.UTC().Format(time.RFC3339), err}
		}
		return &tlsError{"tls: certificate not valid before " + invalid.Cert.NotBefore.UTC().Format(time.RFC3339), err}
	case errors.As(err, &unknown):
		msg := "tls: certificate signed by unknown authority"
		if unknown.Cert != nil && unknown.Cert.Issuer.CommonName != "" {
			msg += " (issuer " + unknown.Cert.Issuer.CommonName + ")"
		}
		return &tlsError{msg, err}
	case errors.As(err, &hostname):
		return &tlsError{"tls: " + strings.TrimPrefix(hostname.Error(), "x509: "), err}
	}
	return err
}

// certExpiry is when the connection's certificates stop verifying: the earliest
// NotAfter of the verified chain (the latest of those when Go verified several,
// e.g. through a cross-signed root), or of the presented certificates when
// verification was skipped.
func certExpiry(state *tls.ConnectionState) time.Time {
	if len(state.VerifiedChains) == 0 {
		return earliestNotAfter(state.PeerCertificates)
	}
	var latest time.Time
	for _, chain := range state.VerifiedChains {
		if e := earliestNotAfter(chain); e.After(latest) {
			latest = e
		}
	}
	return latest
}

func earliestNotAfter(chain []*x509.Certificate) time.Time {
	var earliest time.Time
	for _, cert := range chain {
		if earliest.IsZero() || cert.NotAfter.Before(earliest) {
			earliest = cert.NotAfter
		}
	}
	return earliest
}
