package stack

import (
	"encoding/json"
	"net/http"
	"sync"
)

// EchoUpstream is the demo upstream: it answers every request with the
// request's method, path and headers as JSON, and remembers the last request
// so tests can see exactly what left the proxy.
type EchoUpstream struct {
	mu    sync.Mutex
	last  http.Header
	count int
}

// Echoed is the body EchoUpstream answers with.
type Echoed struct {
	Method  string      `json:"method"`
	Path    string      `json:"path"`
	Headers http.Header `json:"headers"`
}

func (e *EchoUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.last = r.Header.Clone()
	e.count++
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(Echoed{Method: r.Method, Path: r.URL.RequestURI(), Headers: r.Header})
}

// Last returns the headers of the most recent request and how many requests
// reached the upstream in all.
func (e *EchoUpstream) Last() (http.Header, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last.Clone(), e.count
}
