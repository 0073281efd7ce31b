// Package xmlrpc encodes, decodes and carries XML-RPC messages the way supervisord and Python's xmlrpc.client do.
//
// A call is an HTTP/1.1 POST to /RPC2 with Content-Type text/xml whose body is a
// <methodCall> holding a <methodName> and a <params> list of <param><value>
// elements; the answer is HTTP 200 with a <methodResponse> holding either one
// <param> or a <fault> whose value is a struct of faultCode (int) and
// faultString (string). Malformed XML is answered with HTTP 400.
//
// Values map to Go as follows: <int>/<i4>/<i8> is int, <boolean> is bool,
// <string> (or an untyped <value>) is string, <double> is float64, <base64> is
// []byte, <dateTime.iso8601> is time.Time (UTC, whole seconds), <nil/> is nil,
// <array> is []any and <struct> is Struct, an ordered list of members.
//
// The encoder writes byte for byte what Python's xmlrpc.client.dumps writes,
// except that text which cannot appear in XML 1.0 (invalid UTF-8, C0 control
// characters other than tab, newline and carriage return, U+FFFE and U+FFFF)
// is replaced by U+FFFD, and a carriage return is written as &#13; so that it
// survives the XML parser's line-end normalisation. The decoder is lenient in
// what it accepts, like Python's, but bounds nesting depth.
//
// This package knows nothing of supervisord's methods; it is the wire codec,
// a small client over a unix socket and a generic server adapter.
package xmlrpc

import (
	"errors"
	"strconv"
)

// Struct is an XML-RPC struct: its members in wire order. Order is kept because
// supervisord's clients and golden outputs depend on it.
type Struct []Member

// Member is one named value of a Struct.
type Member struct {
	Name  string
	Value any
}

// Get returns the value of the member called name and whether there is one.
// If the name occurs more than once the last one wins, as in Python's decoder.
func (s Struct) Get(name string) (any, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i].Name == name {
			return s[i].Value, true
		}
	}
	return nil, false
}

// Fault is an XML-RPC fault: the error answer of a method call.
type Fault struct {
	Code   int
	String string
}

// Error returns the fault as "fault CODE: STRING".
func (f *Fault) Error() string {
	return "fault " + strconv.Itoa(f.Code) + ": " + f.String
}

// ErrMalformed is wrapped by every decoding error: the body is not XML, or not
// an XML-RPC message this package can read.
var ErrMalformed = errors.New("malformed xml-rpc message")

// ErrUnsupportedType is wrapped by encoding errors for Go values that have no
// XML-RPC form.
var ErrUnsupportedType = errors.New("unsupported type")

// MaxDepth is how deeply arrays and structs may nest in a decoded message.
const MaxDepth = 64
