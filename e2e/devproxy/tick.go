package devproxy

import (
	"errors"
	"time"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/proxytest"
)

// noteTickPeriod records the plugin's tick period (read after every call into
// the plugin, under p.mu) and wakes the tick loop when it changed.
func (p *Proxy) noteTickPeriod(ms uint32) {
	if p.tickPeriod.Swap(ms) != ms {
		select {
		case p.tickWake <- struct{}{}:
		default:
		}
	}
}

// tickLoop delivers OnTick on the period the plugin set (none while it is 0),
// and answers the callouts the plugin context makes on a tick the same way
// as a request's. The period is re-read after every tick and whenever any
// callback changed it. A crash during a tick stops the ticks.
func (p *Proxy) tickLoop() {
	defer close(p.tickDone)
	for {
		var fire <-chan time.Time
		var timer *time.Timer
		if ms := p.tickPeriod.Load(); ms > 0 {
			timer = time.NewTimer(time.Duration(ms) * time.Millisecond)
			fire = timer.C
		}
		select {
		case <-p.baseCtx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case <-p.tickWake:
			if timer != nil {
				timer.Stop()
			}
		case <-fire:
			err := p.locked(func() error {
				p.host.Tick()
				p.settle(p.baseCtx, proxytest.PluginContextID, false)
				return nil
			})
			switch {
			case errors.Is(err, errClosed):
				return
			case err != nil:
				p.logf("ticks stopped")
				return
			}
		}
	}
}
