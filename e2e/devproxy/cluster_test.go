package devproxy

import (
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestClusterRoundRobinAndEjection: callouts alternate over the endpoints;
// one that refused a connection is left out for ejectFor, then taken back;
// other failures (a timeout) eject nothing.
func TestClusterRoundRobinAndEjection(t *testing.T) {
	a, _ := url.Parse("http://127.0.0.1:1001")
	b, _ := url.Parse("http://127.0.0.1:1002")
	c := newCluster([]*url.URL{a, b})
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var got []string
	for range 4 {
		_, u := c.pick(now)
		got = append(got, u.Host)
	}
	if got[0] == got[1] || got[0] != got[2] || got[1] != got[3] {
		t.Fatalf("not round robin: %v", got)
	}
	c.failed(0, &net.OpError{Op: "read"}, now)
	if i, _ := c.pick(now); i != 0 {
		if j, _ := c.pick(now); j != 0 {
			t.Fatal("a read error ejected the endpoint")
		}
	}
	c.failed(0, &net.OpError{Op: "dial"}, now)
	for range 5 {
		if i, _ := c.pick(now.Add(time.Second)); i != 1 {
			t.Fatal("a refusing endpoint was picked while ejected")
		}
	}
	seen := map[int]bool{}
	for range 2 {
		i, _ := c.pick(now.Add(ejectFor))
		seen[i] = true
	}
	if !seen[0] || !seen[1] {
		t.Fatal("the endpoint was not taken back after its ejection")
	}
}

// TestClusterEjectsOnARealRefusal: the error http.Transport gives for a
// port nobody listens on is one that ejects (the test above uses a made-up
// one).
func TestClusterEjectsOnARealRefusal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed, _ := url.Parse("http://" + ln.Addr().String())
	ln.Close()
	other, _ := url.Parse("http://127.0.0.1:1002")
	c := newCluster([]*url.URL{closed, other})
	req, _ := http.NewRequest(http.MethodGet, closed.String()+"/", nil)
	_, err = (&http.Transport{}).RoundTrip(req)
	if err == nil {
		t.Fatal("a closed port answered")
	}
	now := time.Now()
	c.failed(0, err, now)
	for range 4 {
		if i, _ := c.pick(now); i != 1 {
			t.Fatalf("the refusing endpoint was picked after %v", err)
		}
	}
}
