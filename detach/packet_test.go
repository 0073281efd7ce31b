package detach

import (
	"bytes"
	"testing"
)

func TestPacketRoundTrip(t *testing.T) {
	ws := Winsize{Rows: 50, Cols: 132, XPixel: 1, YPixel: 2}
	tests := []struct {
		name string
		p    Packet
		wire []byte
	}{
		{"attach", Packet{Type: MsgAttach}, []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"push", Packet{Type: MsgPush, Len: 2, Data: [8]byte{'h', 'i'}}, []byte{0, 2, 'h', 'i', 0, 0, 0, 0, 0, 0}},
		// struct winsize in host order (little-endian here): rows, cols, x, y.
		{"winch", WinsizePacket(MsgWinch, 0, ws), []byte{3, 0, 50, 0, 132, 0, 1, 0, 2, 0}},
		{"redraw", WinsizePacket(MsgRedraw, RedrawWinch, ws), []byte{4, 3, 50, 0, 132, 0, 1, 0, 2, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.p.Encode()
			if !bytes.Equal(b[:], tt.wire) {
				t.Fatalf("Encode = %v, want %v", b, tt.wire)
			}
			p, err := DecodePacket(b[:])
			if err != nil || p != tt.p {
				t.Fatalf("DecodePacket = %+v, %v; want %+v", p, err, tt.p)
			}
			if tt.p.Type == MsgWinch || tt.p.Type == MsgRedraw {
				if got := p.Winsize(); got != ws {
					t.Errorf("Winsize = %+v, want %+v", got, ws)
				}
			}
		})
	}
	if _, err := DecodePacket(make([]byte, 9)); err == nil {
		t.Error("DecodePacket accepted 9 bytes")
	}
}

func TestPushKeys(t *testing.T) {
	if k := (Packet{Type: MsgPush, Len: 9}).Keys(); k != nil {
		t.Errorf("an over-long push gave keys %q; dtach ignores such packets", k)
	}
	if k := (Packet{Type: MsgAttach, Len: 1}).Keys(); k != nil {
		t.Errorf("a non-push packet gave keys %q", k)
	}
	keys := []byte("seventeen bytes!!")
	wire := AppendPush(nil, keys)
	if len(wire) != 3*PacketSize {
		t.Fatalf("AppendPush made %d bytes, want 3 packets", len(wire))
	}
	var got []byte
	var f Framer
	f.Feed(wire, func(p Packet) { got = append(got, p.Keys()...) })
	if !bytes.Equal(got, keys) {
		t.Errorf("keys through the framer = %q, want %q", got, keys)
	}
}

// TestFramerSplitReads: whatever way the stream is cut into reads, the
// same packets come out (dtach 0.9 mis-frames after a short read).
func TestFramerSplitReads(t *testing.T) {
	var stream []byte
	for i := 0; i < 20; i++ {
		stream = AppendPush(stream, []byte{byte('a' + i)})
		b := WinsizePacket(MsgWinch, 0, Winsize{Rows: uint16(i), Cols: 80}).Encode()
		stream = append(stream, b[:]...)
	}
	var want []Packet
	var whole Framer
	whole.Feed(stream, func(p Packet) { want = append(want, p) })
	if len(want) != 40 {
		t.Fatalf("%d packets from the whole stream, want 40", len(want))
	}
	for _, size := range []int{1, 3, 7, 9, 11, 19, 23} {
		var got []Packet
		var f Framer
		for i := 0; i < len(stream); i += size {
			f.Feed(stream[i:min(i+size, len(stream))], func(p Packet) { got = append(got, p) })
		}
		if len(got) != len(want) {
			t.Fatalf("reads of %d: %d packets, want %d", size, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("reads of %d: packet %d = %+v, want %+v", size, i, got[i], want[i])
			}
		}
		if f.Pending() != 0 {
			t.Errorf("reads of %d: %d bytes left pending", size, f.Pending())
		}
	}
}

// FuzzFramer feeds garbage in arbitrary cuts: no panic, and the packets
// are exactly the stream's 10-byte slices, whatever the cut.
func FuzzFramer(f *testing.F) {
	f.Add([]byte{}, uint8(1))
	f.Add(AppendPush(nil, []byte("hello world")), uint8(3))
	f.Add(bytes.Repeat([]byte{0xff}, 97), uint8(10))
	f.Fuzz(func(t *testing.T, stream []byte, cut uint8) {
		size := int(cut)%32 + 1
		var got []Packet
		var fr Framer
		for i := 0; i < len(stream); i += size {
			fr.Feed(stream[i:min(i+size, len(stream))], func(p Packet) {
				_ = p.Keys()
				_ = p.Winsize()
				got = append(got, p)
			})
		}
		if len(got) != len(stream)/PacketSize || fr.Pending() != len(stream)%PacketSize {
			t.Fatalf("%d bytes gave %d packets and %d pending", len(stream), len(got), fr.Pending())
		}
		for i, p := range got {
			want, _ := DecodePacket(stream[i*PacketSize : (i+1)*PacketSize])
			if p != want {
				t.Fatalf("packet %d = %+v, want %+v", i, p, want)
			}
		}
	})
}
