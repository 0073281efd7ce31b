package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"keeper/detach"
)

// targetScreenIdleRSS is the bound on an idle 80x24 master with the
// emulator on and its scrollback empty.
const targetScreenIdleRSS = 3.5 * 1000 * 1000

// runScreen is "keeper-bench screen": the memory a keeper master's terminal
// emulator costs, idle at 80x24 with empty scrollback and after 2,000 lines
// of 200x50 scrollback, against the same master with KEEPER_SCREEN=off.
// Parse speed comes from detach/vt's benchmarks (go test -bench) and the
// forwarding cost from "keeper-bench detach"; scripts/bench-screen.sh runs
// all three.
func runScreen(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("screen", flag.ContinueOnError)
	keeperBin := fs.String("keeper", "bin/keeper", "keeper binary, run as KEEPER dtach -n")
	rounds := fs.Int("rounds", 5, "sessions measured per figure (the median is reported)")
	lines := fs.Int("lines", 2000, "scrollback lines for the second figure")
	cols := fs.Int("cols", 200, "columns of the second figure's window")
	rows := fs.Int("rows", 50, "rows of the second figure's window")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rounds < 1 || *lines < 1 || *cols < 2 || *rows < 2 {
		return fmt.Errorf("-rounds, -lines must be positive, -cols and -rows at least 2")
	}
	on, err := implFor("keeper", *keeperBin, "dtach")
	if err != nil {
		return err
	}
	off := *on
	off.name, off.env = "keeper (KEEPER_SCREEN=off)", []string{detach.ScreenEnv + "=off"}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	l, err := newLab()
	if err != nil {
		return err
	}
	defer l.close()

	fmt.Fprintf(stdout, "keeper-bench screen: %s dtach, %d sessions per figure, MB = 10^6 bytes\n", on.argv[0], *rounds)
	type fig struct {
		name      string
		rss, anon []int64
		note      string
	}
	var figs []*fig
	measure := func(name string, im *impl, scroll bool) error {
		f := &fig{name: name}
		for range *rounds {
			rss, anon, note, err := screenSession(l, im, self, scroll, *lines, *cols, *rows)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			f.rss, f.anon, f.note = append(f.rss, rss), append(f.anon, anon), note
		}
		figs = append(figs, f)
		return nil
	}
	if err := measure("idle 80x24, empty scrollback", on, false); err != nil {
		return err
	}
	if err := measure("idle 80x24, emulator off", &off, false); err != nil {
		return err
	}
	sb := fmt.Sprintf("idle after %d lines at %dx%d", *lines, *cols, *rows)
	if err := measure(sb, on, true); err != nil {
		return err
	}
	if err := measure(sb+", emulator off", &off, true); err != nil {
		return err
	}

	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "master RSS (median)\tRSS\tanon\ttarget\tresult\t\t")
	for i, f := range figs {
		rss, anon := medianInt(f.rss), medianInt(f.anon)
		target, result := "", ""
		if i == 0 {
			target, result = "<= 3.5 MB", "PASS"
			if float64(rss) > targetScreenIdleRSS {
				result = "FAIL"
			}
		}
		fmt.Fprintf(tw, "%s\t%.2f MB\t%.2f MB\t%s\t%s\t%s\t\n", f.name, mbytes(rss), mbytes(anon), target, result, f.note)
	}
	return tw.Flush()
}

// screenSession starts an idle session, optionally fills its scrollback
// with lines of cols columns at cols x rows (a client attaches to set the
// size, then detaches), and returns the master's RSS and anonymous RSS once the client is gone.
func screenSession(l *lab, im *impl, self string, scroll bool, lines, cols, rows int) (rss, anon int64, note string, err error) {
	argv := []string{"sleep", "600"}
	if scroll {
		argv = []string{self, "lines", "-n", strconv.Itoa(lines + rows), "-cols", strconv.Itoa(cols)}
	}
	s, err := l.start(im, argv...)
	if err != nil {
		return 0, 0, "", err
	}
	defer l.kill(s)
	if scroll {
		c, err := dial(s.sock)
		if err != nil {
			return 0, 0, "", err
		}
		ws := detach.Winsize{Rows: uint16(rows), Cols: uint16(cols)}
		if err := c.attachSized(ws); err != nil {
			c.close()
			return 0, 0, "", err
		}
		c.detach()
		c.close()
		// The lines go out with nobody attached, so the emulator parses
		// them as they are read: all of them reach the scrollback.
		c, err = dial(s.sock)
		if err != nil {
			return 0, 0, "", err
		}
		err = c.send(detach.AppendPush(nil, []byte{'g'}))
		c.close()
		if err != nil {
			return 0, 0, "", err
		}
		if im.env == nil {
			deadline := time.Now().Add(20 * time.Second)
			for {
				st, err := detach.QueryStatus(s.sock, 2*time.Second)
				if err != nil {
					return 0, 0, "", err
				}
				if st.Scrollback >= lines {
					note = fmt.Sprintf("(%d scrollback lines at %dx%d)", st.Scrollback, st.Cols, st.Rows)
					break
				}
				if time.Now().After(deadline) {
					return 0, 0, "", fmt.Errorf("scrollback holds %d lines of %d after 20 s", st.Scrollback, lines)
				}
				time.Sleep(20 * time.Millisecond)
			}
		} else {
			time.Sleep(time.Second) // nothing to ask: let the output go by
		}
	}
	time.Sleep(settle)
	if rss, err = rssBytes(s.master); err != nil {
		return 0, 0, "", err
	}
	if anon, err = statusBytes(s.master, "RssAnon:"); err != nil {
		return 0, 0, "", err
	}
	return rss, anon, note, nil
}

// attachSized attaches with no repaint and sets the session's window size
// (a winch redraw carries it).
func (c *client) attachSized(ws detach.Winsize) error {
	p := detach.Packet{Type: detach.MsgReplay, Len: detach.ReplayNone}.Encode()
	a := detach.Packet{Type: detach.MsgAttach}.Encode()
	var r [detach.PacketSize]byte
	r[0], r[1] = detach.MsgRedraw, detach.RedrawWinch
	e := binary.NativeEndian
	e.PutUint16(r[2:], ws.Rows)
	e.PutUint16(r[4:], ws.Cols)
	if err := c.send(append(append(p[:], a[:]...), r[:]...)); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	return nil
}

// runLines is the scrollback program: raw tty, waits for one byte, writes
// -n coloured lines of about -cols columns, then a last line END-OF-LINES, then
// idles until its terminal hangs up.
func runLines(args []string) error {
	fs := flag.NewFlagSet("lines", flag.ContinueOnError)
	n := fs.Int("n", 2050, "lines")
	cols := fs.Int("cols", 200, "columns per line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := makeRaw(0); err != nil {
		return err
	}
	var b [1]byte
	if _, err := readSome(0, b[:]); err != nil {
		return fmt.Errorf("wait for the go byte: %w", err)
	}
	var out []byte
	for i := range *n {
		// Like ls --color: a coloured number, words, one coloured word in five.
		line := fmt.Appendf(nil, "\x1b[3%dm%6d\x1b[m", i%8, i)
		w := 6
		for j := 0; w+8 <= *cols; j++ {
			word := []byte(" abcdefg")
			word[1] = 'a' + byte((i+j)%26)
			if j%5 == 0 {
				line = fmt.Appendf(line, " \x1b[1;34m%s\x1b[0m", word[1:])
			} else {
				line = append(line, word...)
			}
			w += 8
		}
		out = append(append(out, line...), "\r\n"...)
		if len(out) > 32<<10 {
			if err := writeAll(1, out); err != nil {
				return err
			}
			out = out[:0]
		}
	}
	if err := writeAll(1, append(out, "END-OF-LINES\r\n"...)); err != nil {
		return err
	}
	for {
		if _, err := readSome(0, b[:]); err != nil {
			return nil
		}
	}
}
