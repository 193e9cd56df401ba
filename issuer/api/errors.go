package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/svcauth/svcauth/issuer/apiv1"
	"github.com/svcauth/svcauth/issuer/domain"
	"github.com/svcauth/svcauth/issuer/storage"
)

// statusOf maps error codes to HTTP status codes. It is the only place that
// does.
func statusOf(code string) int {
	switch code {
	case domain.EInvalid:
		return http.StatusBadRequest
	case domain.EUnauthorized:
		return http.StatusUnauthorized
	case domain.EForbidden:
		return http.StatusForbidden
	case domain.ENotFound:
		return http.StatusNotFound
	case domain.EMethod:
		return http.StatusMethodNotAllowed
	case domain.EConflict:
		return http.StatusConflict
	case domain.ETooLarge:
		return http.StatusRequestEntityTooLarge
	case domain.EMediaType:
		return http.StatusUnsupportedMediaType
	case domain.ETooMany:
		return http.StatusTooManyRequests
	case domain.EUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// writeError answers with err as {"error", "message", "reason"}. Internal
// errors are logged with their details and answered with a generic message.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	writeErrorFor(w, r.Method, r.URL.Path, log, err)
}

// writeErrorFor is writeError for a request known by its method and path.
func writeErrorFor(w http.ResponseWriter, method, path string, log *slog.Logger, err error) {
	code := domain.ErrorCode(err)
	if code == domain.EInternal {
		log.Error("internal error", "method", method, "path", path, "err", err)
	}
	if code == domain.EUnauthorized && domain.ErrorReason(err) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="svcauth"`)
	}
	if wait := domain.ErrorRetryAfter(err); wait > 0 {
		// Whole seconds, rounded up: retrying on time must not be early.
		w.Header().Set("Retry-After", strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
	}
	writeJSON(w, statusOf(code), apiv1.Error{Error: code, Message: domain.ErrorMessage(err), Reason: domain.ErrorReason(err)})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, s.logger(r.Context()), err)
}

// writeJSON writes v with status. API answers are never cached: some carry
// secrets.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal","message":"internal error"}`)
	}
	setJSONHeaders(w.Header())
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// jsonHeaders are the headers of every JSON answer of the API (writeJSON,
// the exchange on both servers, the sync endpoint), shared: a header map
// holds them without a copy per answer, and nothing modifies them.
var jsonHeaders = [...]struct {
	name  string // canonical
	value []string
}{
	{"Content-Type", []string{"application/json"}},
	{"Cache-Control", []string{"no-store"}},
	{"X-Content-Type-Options", []string{"nosniff"}},
}

func setJSONHeaders(h http.Header) {
	for _, kv := range jsonHeaders {
		h[kv.name] = kv.value
	}
}

// decode reads exactly one JSON object into v from a body of at most
// s.maxBody bytes, refusing unknown fields and what checkBody refuses.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	if err := checkContentType(r); err != nil {
		return err
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		return s.decodeError(err)
	}
	return s.decodeBytes(b, v)
}

// checkContentType refuses a body not declared as JSON: a browser's form
// or text/plain post (which needs no CORS preflight) never reaches a
// handler, and what a client meant is never guessed. A request without a
// body needs no Content-Type (the optional bodies of refresh and rotate).
func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" && r.ContentLength == 0 {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return domain.Errorf(domain.EMediaType, "request body must be sent with Content-Type: application/json")
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return domain.Errorf(domain.EMediaType, "Content-Type: application/json takes no parameter but charset=utf-8")
		}
	}
	return nil
}

// decodeBytes is decode on a body already read, of at most s.maxBody bytes.
func (s *Server) decodeBytes(b []byte, v any) error {
	if err := checkBody(b); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return s.decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return domain.Errorf(domain.EInvalid, "request body must hold exactly one JSON object")
	}
	return nil
}

// errTooLarge is the one answer to every body over the limit, whichever
// layer (the handler's reader, the HTTP server) noticed it.
func (s *Server) errTooLarge() error {
	return domain.Errorf(domain.ETooLarge, "%s", tooLargeMessage(s.maxBody))
}

func tooLargeMessage(limit int64) string {
	return "request body larger than " + strconv.FormatInt(limit, 10) + " bytes"
}

func (s *Server) decodeError(err error) error {
	var (
		tooLarge *http.MaxBytesError
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return s.errTooLarge()
	case errors.Is(err, io.EOF):
		return domain.Errorf(domain.EInvalid, "request body is empty: want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return domain.Errorf(domain.EInvalid, "request body is truncated JSON")
	case errors.As(err, &syntax):
		return domain.Errorf(domain.EInvalid, "malformed JSON at byte %d: %s", syntax.Offset, syntax.Error())
	case errors.As(err, &typ):
		if typ.Field != "" {
			return domain.Errorf(domain.EInvalid, "field %q: got JSON %s, want %s", typ.Field, typ.Value, jsonKind(typ.Type.Kind().String()))
		}
		return errNotObject
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return domain.Errorf(domain.EInvalid, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return domain.Errorf(domain.EInvalid, "malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	}
	return goKind
}

// storageErr turns storage errors into domain errors for the caller: what
// names the object ("service token abc").
func storageErr(err error, what string) error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return domain.Errorf(domain.ENotFound, "no %s", what)
	case errors.Is(err, storage.ErrAlreadyExists):
		return domain.Errorf(domain.EConflict, "%s already exists", what)
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
}
