package detach

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// Packet types a client sends to the master.
const (
	MsgPush   = 0 // keystrokes for the program: Len bytes of Data
	MsgAttach = 1 // start sending the pty's output to this client
	MsgDetach = 2 // stop sending output to this client
	MsgWinch  = 3 // the client's window size changed: Data holds a winsize
	MsgRedraw = 4 // ask for a redraw: Len holds the method, Data a winsize
)

// Redraw methods carried in a MsgRedraw packet's Len.
const (
	RedrawUnspec = 0 // use the master's default
	RedrawNone   = 1
	RedrawCtrlL  = 2
	RedrawWinch  = 3
)

// PacketSize is the size of every client packet on the wire.
const PacketSize = 10

// payloadSize is the size of a packet's payload, that of a struct winsize.
const payloadSize = PacketSize - 2

// Packet is one client-to-master message.
type Packet struct {
	Type byte
	Len  byte
	Data [payloadSize]byte
}

// Winsize is a terminal size as struct winsize holds it.
type Winsize struct {
	Rows, Cols, XPixel, YPixel uint16
}

// Encode returns the packet's wire form.
func (p Packet) Encode() [PacketSize]byte {
	var b [PacketSize]byte
	b[0], b[1] = p.Type, p.Len
	copy(b[2:], p.Data[:])
	return b
}

// DecodePacket reads one packet from exactly PacketSize bytes.
func DecodePacket(b []byte) (Packet, error) {
	if len(b) != PacketSize {
		return Packet{}, errors.New("decode packet: " + strconv.Itoa(len(b)) + " bytes, want " + strconv.Itoa(PacketSize))
	}
	var p Packet
	p.Type, p.Len = b[0], b[1]
	copy(p.Data[:], b[2:])
	return p, nil
}

// Winsize returns the window size a MsgWinch or MsgRedraw packet carries.
func (p Packet) Winsize() Winsize {
	e := binary.NativeEndian
	return Winsize{
		Rows:   e.Uint16(p.Data[0:]),
		Cols:   e.Uint16(p.Data[2:]),
		XPixel: e.Uint16(p.Data[4:]),
		YPixel: e.Uint16(p.Data[6:]),
	}
}

// Keys returns the keystrokes of a MsgPush packet, or nil when its length
// is out of range (dtach ignores such packets too).
func (p Packet) Keys() []byte {
	if p.Type != MsgPush || int(p.Len) > payloadSize {
		return nil
	}
	return p.Data[:p.Len]
}

// WinsizePacket is a MsgWinch or MsgRedraw packet (method: Redraw*) for ws.
func WinsizePacket(typ, method byte, ws Winsize) Packet {
	p := Packet{Type: typ, Len: method}
	e := binary.NativeEndian
	e.PutUint16(p.Data[0:], ws.Rows)
	e.PutUint16(p.Data[2:], ws.Cols)
	e.PutUint16(p.Data[4:], ws.XPixel)
	e.PutUint16(p.Data[6:], ws.YPixel)
	return p
}

// AppendPush appends to dst the MsgPush packets that carry keys, eight
// bytes to a packet.
func AppendPush(dst []byte, keys []byte) []byte {
	for len(keys) > 0 {
		n := min(len(keys), payloadSize)
		p := Packet{Type: MsgPush, Len: byte(n)}
		copy(p.Data[:], keys[:n])
		b := p.Encode()
		dst = append(dst, b[:]...)
		keys = keys[n:]
	}
	return dst
}

// Framer splits a byte stream into packets. Bytes of a packet that arrive
// in several reads are kept until the packet is whole, so a short read never
// shifts the framing.
type Framer struct {
	buf [PacketSize]byte
	n   int
}

// Feed consumes b and calls emit for every packet it completes.
func (f *Framer) Feed(b []byte, emit func(Packet)) {
	for len(b) > 0 {
		if f.n == 0 && len(b) >= PacketSize {
			p, _ := DecodePacket(b[:PacketSize])
			emit(p)
			b = b[PacketSize:]
			continue
		}
		c := copy(f.buf[f.n:], b)
		f.n += c
		b = b[c:]
		if f.n == PacketSize {
			p, _ := DecodePacket(f.buf[:])
			f.n = 0
			emit(p)
		}
	}
}

// Pending reports how many bytes of an incomplete packet are buffered.
func (f *Framer) Pending() int { return f.n }
