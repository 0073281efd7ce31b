package xmlrpc

import (
	"context"
	"errors"
	"strings"

	"keeper/supervise/http1"
)

// Handler answers one decoded method call. It returns the result value (any
// type AppendResponse encodes) or an error. An error that is or wraps a *Fault
// is sent as that fault; any other error is an internal error, answered with
// HTTP 500 as supervisord answers an unexpected exception, so handlers should
// report expected failures as faults.
type Handler func(ctx context.Context, method string, params []any) (any, error)

// DefaultMaxRequestBytes bounds a request body when Server.MaxRequestBytes is 0.
const DefaultMaxRequestBytes = 4 << 20

// Server is an http1.Handler that serves XML-RPC calls to paths starting with
// /RPC2 (as supervisord matches them). It answers 404 for other paths, 405 for
// methods other than POST, 413 for a body over the limit, 400 for a body that
// is not a well-formed methodCall, 500 for handler errors that are not faults
// and for results that cannot be encoded, and 200 with a methodResponse
// otherwise. (The connection's server bounds what it reads of a body too.)
type Server struct {
	// Handler answers the calls.
	Handler Handler
	// MaxRequestBytes bounds a request body; 0 means DefaultMaxRequestBytes.
	MaxRequestBytes int64
}

// Serve returns a Server for h with default limits.
func Serve(h Handler) http1.Handler {
	return &Server{Handler: h}
}

func httpError(w http1.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(msg + "\n"))
}

// ServeHTTP decodes the methodCall in r, calls the Handler and writes its
// answer.
func (s *Server) ServeHTTP(w http1.ResponseWriter, r *http1.Request) {
	if !strings.HasPrefix(r.Path, "/RPC2") {
		httpError(w, 404, "404 page not found")
		return
	}
	if r.Method != "POST" {
		w.Header().Set("Allow", "POST")
		httpError(w, 405, "xml-rpc needs POST")
		return
	}
	limit := s.MaxRequestBytes
	if limit <= 0 {
		limit = DefaultMaxRequestBytes
	}
	if int64(len(r.Body)) > limit {
		httpError(w, 413, "request body too large")
		return
	}
	method, params, err := DecodeCall(r.Body)
	if err != nil {
		httpError(w, 400, err.Error())
		return
	}
	v, err := s.Handler(r.Context(), method, params)
	// Decoded values never alias the body, so its buffer can take the answer.
	out := r.Body[:0]
	if err != nil {
		var f *Fault
		if !errors.As(err, &f) {
			httpError(w, 500, method+": "+err.Error())
			return
		}
		out = AppendFault(out, f)
	} else if out, err = AppendResponse(out, v); err != nil {
		httpError(w, 500, method+": "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(200)
	w.Write(out)
}
