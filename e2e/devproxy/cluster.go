package devproxy

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ejectFor is how long an endpoint that refused a connection is left out,
// as Envoy's outlier detection ejects a host after local-origin failures.
const ejectFor = 5 * time.Second

// cluster is an Envoy cluster of one or more endpoints. Callouts go round
// robin over the endpoints not ejected (Envoy's default load balancer); an
// endpoint that refuses a connection is ejected for ejectFor. The callout
// that found it down fails, as in Envoy, where a dispatch_http_call is not
// retried.
type cluster struct {
	endpoints []*url.URL
	mu        sync.Mutex
	next      int
	ejected   []time.Time // until when each endpoint is left out
}

func newCluster(urls []*url.URL) *cluster {
	return &cluster{endpoints: urls, ejected: make([]time.Time, len(urls))}
}

// pick returns the next endpoint in turn that is not ejected (when all
// are, the next in turn).
func (c *cluster) pick(now time.Time) (int, *url.URL) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.endpoints)
	for k := 0; k < n; k++ {
		i := (c.next + k) % n
		if !now.Before(c.ejected[i]) {
			c.next = i + 1
			return i, c.endpoints[i]
		}
	}
	i := c.next % n
	c.next = i + 1
	return i, c.endpoints[i]
}

// failed records a callout's failure on endpoint i: a refused or
// unreachable connection ejects it.
func (c *cluster) failed(i int, err error, now time.Time) {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return
	}
	c.mu.Lock()
	c.ejected[i] = now.Add(ejectFor)
	c.mu.Unlock()
}

func (c *cluster) String() string {
	s := make([]string, len(c.endpoints))
	for i, u := range c.endpoints {
		s[i] = u.String()
	}
	return strings.Join(s, ",")
}
