// Package http1 is the small part of HTTP/1.1 that supervisord's clients
// speak over a unix socket: requests with a Content-Length body and
// keep-alive, responses with a Content-Length body or, for streams, chunked
// encoding. keeper uses it instead of net/http, which would more than
// double the size of the binary every session master maps.
package http1

import (
	"errors"
	"net/textproto"
	"strconv"
	"strings"
)

// Header holds header fields by canonical name (Content-Length).
type Header map[string]string

// Get returns the value of the field key, in any case.
func (h Header) Get(key string) string { return h[textproto.CanonicalMIMEHeaderKey(key)] }

// Set sets the field key, in any case.
func (h Header) Set(key, value string) { h[textproto.CanonicalMIMEHeaderKey(key)] = value }

// Limits on what a peer may send.
const (
	MaxHeaderBytes  = 64 << 10
	DefaultMaxBody  = 4 << 20
	maxChunkLineLen = 4096
)

// ErrMalformed is wrapped by errors for input that is not HTTP/1.x.
var ErrMalformed = errors.New("malformed http message")

// StatusText returns the reason phrase of the status codes keeper uses.
func StatusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 411:
		return "Length Required"
	case 413:
		return "Request Entity Too Large"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Status " + strconv.Itoa(code)
}

// wantsClose reports whether a message of proto with these headers ends
// its connection: HTTP/1.1 keeps it unless told to close, HTTP/1.0 closes
// it unless told to keep it.
func wantsClose(proto string, h Header) bool {
	conn := strings.ToLower(h.Get("Connection"))
	if proto == "HTTP/1.0" {
		return !strings.Contains(conn, "keep-alive")
	}
	return strings.Contains(conn, "close")
}
