package xmlrpc

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Handler answers one decoded method call. It returns the result value (any
// type AppendResponse encodes) or an error. An error that is or wraps a *Fault
// is sent as that fault; any other error is an internal error, answered with
// HTTP 500 as supervisord answers an unexpected exception, so handlers should
// report expected failures as faults.
type Handler func(ctx context.Context, method string, params []any) (any, error)

// DefaultMaxRequestBytes bounds a request body when Server.MaxRequestBytes is 0.
const DefaultMaxRequestBytes = 4 << 20

// Server is an http.Handler that serves XML-RPC calls to paths starting with
// /RPC2 (as supervisord matches them). It answers 404 for other paths, 405 for
// methods other than POST, 413 for a body over the limit, 400 for a body that
// is not a well-formed methodCall, 500 for handler errors that are not faults
// and for results that cannot be encoded, and 200 with a methodResponse
// otherwise.
type Server struct {
	// Handler answers the calls.
	Handler Handler
	// MaxRequestBytes bounds a request body; 0 means DefaultMaxRequestBytes.
	MaxRequestBytes int64
}

// Serve returns a Server for h with default limits.
func Serve(h Handler) http.Handler {
	return &Server{Handler: h}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// ServeHTTP decodes the methodCall in r, calls the Handler and writes its
// answer.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/RPC2") {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "xml-rpc needs POST", http.StatusMethodNotAllowed)
		return
	}
	limit := s.MaxRequestBytes
	if limit <= 0 {
		limit = DefaultMaxRequestBytes
	}
	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 1<<20 {
			*bp = (*bp)[:0]
			bufPool.Put(bp)
		}
	}()
	body, err := readAll(http.MaxBytesReader(w, r.Body, limit), (*bp)[:0])
	*bp = body
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	method, params, err := DecodeCall(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	v, err := s.Handler(r.Context(), method, params)
	// Decoded values never alias body, so its buffer can take the answer.
	out := body[:0]
	if err != nil {
		var f *Fault
		if !errors.As(err, &f) {
			http.Error(w, method+": "+err.Error(), http.StatusInternalServerError)
			return
		}
		out = AppendFault(out, f)
	} else if out, err = AppendResponse(out, v); err != nil {
		http.Error(w, method+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	*bp = out
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}

// readAll is io.ReadAll appending to b.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}
