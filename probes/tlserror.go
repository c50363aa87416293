package probes

import (
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

// DescribeTLSError returns err with a short text when it is a certificate
// verification failure ("tls: certificate expired at 2026-12-01T00:00:00Z",
// "tls: certificate signed by unknown authority (issuer X)"), and err itself
// otherwise. The original stays reachable through errors.As.
func DescribeTLSError(err error) error {
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
