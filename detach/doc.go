// Package detach runs dtach-compatible terminal sessions: the session master
// that holds a program's pty behind a unix socket, the client that attaches a
// terminal to it, and dtach 0.9's wire protocol between the two.
//
// Wire protocol (dtach 0.9): a client sends fixed 10-byte packets, one type
// byte, one length byte and eight bytes of payload (keystrokes, or a struct
// winsize in host byte order). The master sends the pty's output as raw bytes
// with no framing. The socket file's owner-execute bit is set while a client
// is attached.
package detach
