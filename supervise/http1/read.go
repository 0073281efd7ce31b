package http1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strconv"
	"strings"
)

// readHeaderLines reads the start line and the header fields of a message,
// up to the blank line, within MaxHeaderBytes.
func readHeaderLines(br *bufio.Reader) (start string, h Header, err error) {
	budget := MaxHeaderBytes
	readLine := func() (string, error) {
		var line []byte
		for {
			frag, isPrefix, err := br.ReadLine()
			if err != nil {
				return "", err
			}
			budget -= len(frag) + 2
			if budget < 0 {
				return "", fmt.Errorf("%w: header larger than %d bytes", errHeaderTooLarge, MaxHeaderBytes)
			}
			line = append(line, frag...)
			if !isPrefix {
				return string(line), nil
			}
		}
	}
	// Tolerate blank lines before a request (RFC 9112 2.2).
	for start == "" {
		if start, err = readLine(); err != nil {
			return "", nil, err
		}
	}
	h = Header{}
	for {
		line, err := readLine()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", nil, err
		}
		if line == "" {
			return start, h, nil
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return "", nil, fmt.Errorf("%w: header line %q", ErrMalformed, line)
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		value = strings.TrimSpace(value)
		if old, ok := h[key]; ok {
			value = old + ", " + value
		}
		h[key] = value
	}
}

var errHeaderTooLarge = errors.New("header too large")

// readBody reads a message body framed by Content-Length or chunked
// encoding, at most limit bytes; a message with neither has none unless
// untilEOF (a response read to the connection's end).
func readBody(br *bufio.Reader, h Header, limit int64, untilEOF bool) ([]byte, error) {
	if strings.EqualFold(h.Get("Transfer-Encoding"), "chunked") {
		return io.ReadAll(&limitedReader{r: newChunkedReader(br), n: limit})
	}
	if cl := h.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: Content-Length %q", ErrMalformed, cl)
		}
		if n > limit {
			return nil, fmt.Errorf("%w: body of %d bytes", ErrBodyTooLarge, n)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	if untilEOF {
		return io.ReadAll(&limitedReader{r: br, n: limit})
	}
	return nil, nil
}

// ErrBodyTooLarge is wrapped by errors for a body over the limit.
var ErrBodyTooLarge = errors.New("body too large")

type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, ErrBodyTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// chunkedReader decodes a chunked body.
type chunkedReader struct {
	br   *bufio.Reader
	left int64 // bytes left in the current chunk
	done bool
}

func newChunkedReader(br *bufio.Reader) *chunkedReader { return &chunkedReader{br: br} }

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	if c.left == 0 {
		line, err := c.line()
		if err != nil {
			return 0, err
		}
		size, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%w: chunk size %q", ErrMalformed, line)
		}
		if n == 0 {
			// Trailer fields, then the blank line.
			for {
				l, err := c.line()
				if err != nil {
					return 0, err
				}
				if l == "" {
					break
				}
			}
			c.done = true
			return 0, io.EOF
		}
		c.left = n
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	if c.left == 0 && err == nil {
		if l, lerr := c.line(); lerr != nil || l != "" {
			return n, fmt.Errorf("%w: no CRLF after a chunk", ErrMalformed)
		}
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (c *chunkedReader) line() (string, error) {
	line, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > maxChunkLineLen {
		return "", fmt.Errorf("%w: chunk line too long", ErrMalformed)
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}
