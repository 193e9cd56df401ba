package stack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// process is one child process whose combined output is kept for failure
// reports and optionally copied to a writer.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *SyncBuffer
	done chan struct{}
	err  error
}

func startProcess(name string, echo io.Writer, path string, args ...string) (*process, error) {
	return startProcessEnv(name, echo, nil, path, args...)
}

// startProcessEnv is startProcess with extra environment variables.
func startProcessEnv(name string, echo io.Writer, env []string, path string, args ...string) (*process, error) {
	p := &process{name: name, out: &SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	var w io.Writer = p.out
	if echo != nil {
		w = io.MultiWriter(p.out, echo)
	}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Output returns everything the process printed so far.
func (p *process) Output() string { return p.out.String() }

// kill ends the process with SIGKILL, as a node failure would: no
// shutdown, nothing flushed.
func (p *process) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// stop sends SIGTERM, waits up to 5 s, then kills.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitHTTP polls url until it answers 200, the process exits, or ctx ends.
func (p *process) waitHTTP(ctx context.Context, url string) error {
	err := WaitOK(ctx, url, p.done)
	select {
	case <-p.done:
		return fmt.Errorf("%s exited before it was ready (%v); output:\n%s", p.name, p.err, p.Output())
	default:
	}
	if err != nil {
		return fmt.Errorf("%s not ready: %w; output:\n%s", p.name, err, p.Output())
	}
	return nil
}

// WaitOK polls url until it answers 200, ctx ends, or stop (when not nil) is
// closed — the process behind url exited. The error names the last answer.
func WaitOK(ctx context.Context, url string, stop <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		select {
		case <-stop:
			return fmt.Errorf("%s: gave up, the server exited (last: %v)", url, err)
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last: %v)", url, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// SyncBuffer is a log sink that goroutines may write concurrently (a
// process's output, a harness's log).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
