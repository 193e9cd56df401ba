// Package httpx holds HTTP plumbing shared by the issuer's API and its
// dashboard.
package httpx

import "net/http"

// StatusWriter records the status code a handler wrote: the first one given
// to WriteHeader, or 200 when the handler writes a body first. Status is 0
// while the handler has written nothing.
type StatusWriter struct {
	http.ResponseWriter
	Status int
}

func (w *StatusWriter) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
