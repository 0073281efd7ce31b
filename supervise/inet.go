package supervise

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"keeper/supervise/http1"
	"keeper/supervise/logfile"
)

// Limits of the [inet_http_server] listener: a slow, idle or hostile TCP
// client cannot hold the daemon.
const (
	// MaxInetConns is how many TCP connections keeper serves at once; more
	// are closed as soon as they are accepted, until one ends.
	MaxInetConns = 64
	// InetIdleTimeout closes a TCP connection that sends no request for
	// this long (Python's xmlrpc.client and supervisorctl reconnect).
	InetIdleTimeout = time.Minute
	// InetReadTimeout closes a TCP connection whose request, once begun,
	// is not read whole within this long.
	InetReadTimeout = 30 * time.Second
	// InetMaxBody bounds a request's body, as on the control socket.
	InetMaxBody = 4 << 20
)

// InetHandler is what [inet_http_server] serves: HTTPHandler's XML-RPC
// and log streams, behind [inet_http_server]'s own Basic authentication
// (there are no peer credentials on TCP).
func (d *Daemon) InetHandler() http1.Handler {
	return d.authenticate(d.cfg.Inet.Username, d.cfg.Inet.Password, d.routes(d.cfg.Inet.Web))
}

// inetServer serves [inet_http_server]: at most one TCP listener, served
// with the handler of the daemon that runs now.
type inetServer struct {
	log *logfile.Logger
	// Limits; a test shortens them.
	maxConns      int
	idle, reading time.Duration

	// mu guards addr, ln and srv: a reexec (execOnRequest) and a restart
	// (Run's loop) may come at once.
	mu      sync.Mutex
	addr    string       // where ln listens; "" when nothing does
	ln      net.Listener // opened by open, served once serve is called
	srv     *http1.Server
	handler atomic.Pointer[http1.Handler]
	serving sync.WaitGroup
}

func newInetServer(log *logfile.Logger) *inetServer {
	return &inetServer{log: log, maxConns: MaxInetConns, idle: InetIdleTimeout, reading: InetReadTimeout}
}

// open listens on c's address, unless the listener is already there. A
// listener on another address is shut down first: a restart re-reads
// [inet_http_server] as supervisord's does. The new listener accepts
// nothing until serve gives it its handler, so no request is ever answered
// with the credentials of another config. Port 0 listens nowhere.
func (s *inetServer) open(c InetConfig) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	addr := ""
	if c.Port != 0 {
		addr = c.Addr()
	}
	if addr == s.addr {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	s.shutdownLocked(ctx)
	cancel()
	if addr == "" {
		return nil
	}
	// IPv4 as supervisord (every interface is 0.0.0.0), unless the host is
	// an IPv6 address.
	network := "tcp4"
	if ip := net.ParseIP(c.Host); ip != nil && ip.To4() == nil {
		network = "tcp6"
	}
	ln, err := net.Listen(network, addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("listen on %s for [inet_http_server]: %w: another program (or keeper daemon) uses port %d; stop it or set another port", addr, err, c.Port)
	}
	if err != nil {
		return fmt.Errorf("listen on %s for [inet_http_server]: %w", addr, err)
	}
	s.addr, s.ln = addr, ln
	return nil
}

// serve serves the open listener with h, or gives the one served already
// h for its next requests.
func (s *inetServer) serve(h http1.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler.Store(&h)
	if s.ln == nil || s.srv != nil {
		return
	}
	s.srv = &http1.Server{
		Handler: http1.HandlerFunc(func(w http1.ResponseWriter, r *http1.Request) {
			(*s.handler.Load()).ServeHTTP(w, r)
		}),
		MaxBodyBytes: InetMaxBody,
		IdleTimeout:  s.idle,
		ReadTimeout:  s.reading,
		LogAcceptError: func(err error) {
			s.log.Warnf("[inet_http_server] on %s: %v; accepting again with backoff", s.addr, err)
		},
	}
	s.log.Infof("serving [inet_http_server] on %s", s.ln.Addr())
	l := &connLimit{Listener: s.ln, slots: make(chan struct{}, s.maxConns), log: s.log}
	s.serving.Add(1)
	go func(srv *http1.Server) {
		defer s.serving.Done()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http1.ErrServerClosed) {
			s.log.Errorf("[inet_http_server] on %s stopped accepting: %v", l.Addr(), err)
		}
	}(s.srv)
}

// shutdown closes the listener and its connections, waiting for requests
// under way until ctx ends.
func (s *inetServer) shutdown(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdownLocked(ctx)
}

func (s *inetServer) shutdownLocked(ctx context.Context) {
	switch {
	case s.srv != nil:
		if err := s.srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			s.log.Warnf("close [inet_http_server] on %s: %v", s.addr, err)
		}
		s.serving.Wait()
	case s.ln != nil:
		s.ln.Close()
	}
	s.addr, s.ln, s.srv = "", nil, nil
}

// handedInet is the [inet_http_server] listener across a reexec.
type handedInet struct {
	Fd   int
	Addr string // as open names it, so that the same config keeps it
}

// handOver stops serving for a reexec: nothing more is accepted, the
// requests under way and those of connections just accepted are answered
// (until ctx ends), and the connections closed; but the listening socket
// stays open in the returned duplicate, where clients that connect
// meanwhile wait in the backlog for the next daemon. It returns nil when
// nothing listens.
func (s *inetServer) handOver(ctx context.Context) (*os.File, *handedInet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tl, ok := s.ln.(*net.TCPListener)
	if !ok {
		return nil, nil, nil
	}
	f, err := tl.File()
	if err != nil {
		return nil, nil, fmt.Errorf("hand over [inet_http_server] on %s: %w", s.addr, err)
	}
	hi := &handedInet{Fd: -1, Addr: s.addr}
	s.shutdownLocked(ctx)
	return f, hi, nil
}

// takeBack serves f, the duplicate handOver returned, again (the exec
// failed). The caller closes f.
func (s *inetServer) takeBack(f *os.File, hi *handedInet) {
	if err := s.adopt(f, hi.Addr); err != nil {
		s.log.Errorf("reexec: %v; [inet_http_server] is not served until the next restart", err)
		return
	}
	if h := s.handler.Load(); h != nil {
		s.serve(*h)
	}
}

// adopt listens on f, the [inet_http_server] socket at addr a daemon that
// executed this one handed over (or handOver returned), instead of
// opening one. The caller closes f.
func (s *inetServer) adopt(f *os.File, addr string) error {
	ln, err := net.FileListener(f) // a duplicate, close-on-exec
	if err != nil {
		return fmt.Errorf("adopt [inet_http_server] on %s: %w", addr, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addr, s.ln = addr, ln
	return nil
}

// connLimit is a listener that holds at most cap(slots) connections open:
// one more is closed at once (and the first of a run of them logged).
type connLimit struct {
	net.Listener
	slots chan struct{}
	full  atomic.Bool // the refusal of this run of connections was logged
	log   *logfile.Logger
}

func (l *connLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			l.full.Store(false)
			return &limitedConn{Conn: c, release: sync.OnceFunc(func() { <-l.slots })}, nil
		default:
			if !l.full.Swap(true) {
				l.log.Warnf("[inet_http_server] serves at most %d connections at once: closing the one from %s, and more until one ends",
					cap(l.slots), c.RemoteAddr())
			}
			c.Close()
		}
	}
}

// limitedConn gives its slot back when it closes.
type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	c.release()
	return c.Conn.Close()
}
