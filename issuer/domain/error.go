// Package domain holds svcauth's issuer types (service tokens, applications,
// policies, audit events), their validation, policy evaluation and the one
// error type every layer returns. Storage and HTTP depend on it, never the
// other way round.
package domain

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. They are the stable "error" field of every JSON error body;
// the HTTP layer maps each to one status code in one place.
const (
	EInvalid      = "bad_request"            // malformed or invalid input
	EUnauthorized = "unauthorized"           // credentials missing or wrong
	EForbidden    = "forbidden"              // authenticated, but not allowed
	ENotFound     = "not_found"              // unknown id
	EConflict     = "conflict"               // duplicate name, object still in use
	ETooLarge     = "payload_too_large"      // body over the limit
	EMediaType    = "unsupported_media_type" // a body that is not declared application/json
	ETooMany      = "too_many_requests"      // throttled: retry after the error's RetryAfter
	EMethod       = "method_not_allowed"
	EInternal     = "internal"    // anything else; details are logged, never returned
	EUnavailable  = "unavailable" // a dependency (the database) is down
)

// Exchange reasons: the "reason" of 401 and 403 answers to POST /v1/exchange,
// which the filter passes on to clients.
const (
	ReasonUnknownClient        = "unknown_client"
	ReasonInvalidSecret        = "invalid_secret"
	ReasonTokenExpired         = "token_expired"
	ReasonTokenDisabled        = "token_disabled"
	ReasonMalformedCredentials = "malformed_credentials"
	ReasonNoMatchingPolicy     = "no_matching_policy"
	ReasonDeniedByPolicy       = "denied_by_policy"
	// ReasonTooManyFailures: a 429, the client id or source failed too
	// often; the attempt was not checked.
	ReasonTooManyFailures = "too_many_failures"
)

// Error is the one error type of the issuer. Code decides the HTTP status,
// Message is safe to show to the caller (it never contains a secret), and
// Reason, when set, is a machine-readable refinement (exchange answers).
type Error struct {
	Code    string
	Message string
	Reason  string
	// RetryAfter, on a 429, is how long the caller should wait.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("svcauth: %s (%s): %s", e.Code, e.Reason, e.Message)
	}
	return fmt.Sprintf("svcauth: %s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: the Code of an *Error anywhere in its
// chain, EInternal for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EInternal
	}
}

// ErrorMessage returns the caller-safe message of err: the Message of an
// *Error, or a generic text for internal errors (whose details are logged).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorReason returns the Reason of an *Error in err's chain, or "".
func ErrorReason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// ErrorRetryAfter returns err's RetryAfter (a 429's), or 0.
func ErrorRetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
