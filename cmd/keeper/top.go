package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"keeper/supervise"
)

func init() {
	commands["top"] = &command{
		summary: "a live view of what programs and their sessions cost",
		usage: `keeper [-c FILE | -s unix:///PATH] top [-d SECONDS] [-n FRAMES]

Shows every program, with its sessions under it, and what each costs: MEM
(PSS where the kernel gives it, else RSS, of the whole tree), CPU (percent
of one core over the last interval) and PROCS, refreshed every -d seconds
(default 2). Keys: m sorts by memory, c by CPU, n by name; q (or Ctrl-C)
quits. -n stops after that many frames; without a terminal top prints the
frames one after the other (batch mode). Each frame costs the daemon one
walk of the process table.`,
		run: runTop,
	}
}

// topSort is the column keeper top sorts by.
type topSort byte

const (
	sortMem  topSort = 'm'
	sortCPU  topSort = 'c'
	sortName topSort = 'n'
)

func (s topSort) String() string {
	switch s {
	case sortCPU:
		return "cpu"
	case sortName:
		return "name"
	}
	return "mem"
}

func runTop(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCtlFlags("top", stderr)
	delay := fs.Float64P("delay", "d", 2, "seconds between frames")
	frames := fs.IntP("frames", "n", 0, "stop after this many frames (0: until q)")
	if done, err := parseCtlFlags(fs, args); done {
		return err
	}
	if *delay <= 0 {
		fmt.Fprintln(stderr, "keeper: top: -d wants a positive number of seconds")
		return exitError{exitInvalidArgs}
	}
	c, err := newCtl(ctx, stdout, stderr)
	if err != nil {
		return err
	}
	if !c.upcheck(ctx) {
		return c.result()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	keys := make(chan byte, 8)
	interactive := false
	if in, ok := stdinTerminal(); ok {
		interactive = true
		defer in.restore()
		// Frames go to the alternate screen, as procps top's do: on
		// quitting, the terminal shows again what it showed before.
		io.WriteString(stdout, "\033[?1049h")
		defer io.WriteString(stdout, "\033[?1049l")
		go func() {
			buf := make([]byte, 16)
			for {
				n, err := os.Stdin.Read(buf)
				for _, b := range buf[:n] {
					keys <- b
				}
				if err != nil {
					close(keys)
					return
				}
			}
		}()
	}
	order := sortMem
	for frame := 1; ; frame++ {
		text, err := topFrame(ctx, c, order)
		if err != nil {
			c.fail(err)
			return c.result()
		}
		if interactive {
			io.WriteString(stdout, "\033[H\033[J")
		} else if frame > 1 {
			io.WriteString(stdout, "\n")
		}
		io.WriteString(stdout, text)
		if *frames > 0 && frame >= *frames {
			return c.result()
		}
		timer := time.NewTimer(time.Duration(*delay * float64(time.Second)))
	wait:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return c.result()
			case k, ok := <-keys:
				switch {
				case !ok, k == 'q', k == 3:
					timer.Stop()
					return c.result()
				case k == byte(sortMem), k == byte(sortCPU), k == byte(sortName):
					order = topSort(k)
					timer.Stop()
					break wait
				}
			case <-timer.C:
				break wait
			}
		}
	}
}

// topRow is one program, or one session under its program.
type topRow struct {
	name, state, detail string
	usage               *supervise.Usage
	sessions            []topRow
}

// topFrame reads the daemon once and lays out one frame.
func topFrame(ctx context.Context, c *ctl, order topSort) (string, error) {
	v, err := c.call(ctx, "supervisor.getAllProcessInfo")
	if err != nil {
		return "", err
	}
	infos, err := supervise.DecodeProcessInfos(v)
	if err != nil {
		return "", err
	}
	progUsage := c.usage(ctx, "keeper.getProcessUsage", "namespec", nil)
	var sessions []sessionJSON
	if v, err := c.call(ctx, "keeper.getSessions", []any{}); err == nil {
		sessions = sessionsFrom(v)
	}
	sessUsage := c.usage(ctx, "keeper.getSessionUsage", "socket", nil)

	rows := make([]topRow, 0, len(infos))
	byName := map[string]int{}
	for _, info := range infos {
		r := topRow{name: info.Namespec(), state: info.StateName}
		if info.PID != 0 {
			r.detail = fmt.Sprint(info.PID)
		}
		if u, ok := progUsage[r.name]; ok {
			r.usage = &u
		}
		byName[r.name] = len(rows)
		rows = append(rows, r)
	}
	var total supervise.Usage
	for _, s := range sessions {
		r := topRow{name: s.Name, state: s.State, detail: fmt.Sprint(s.PID)}
		if u, ok := sessUsage[s.Socket]; ok {
			r.usage = &u
		}
		if i, ok := byName[s.Program]; ok {
			rows[i].sessions = append(rows[i].sessions, r)
		} else { // a program no longer configured
			byName[s.Program] = len(rows)
			rows = append(rows, topRow{name: s.Program, state: "-", sessions: []topRow{r}})
		}
	}
	for _, r := range rows {
		for _, s := range append([]topRow{r}, r.sessions...) {
			if s.usage != nil {
				total.RSS += s.usage.RSS
				total.PSS += s.usage.PSS
				total.CPUPercent += s.usage.CPUPercent
				total.Processes += s.usage.Processes
			}
		}
	}
	sortRows(rows, order)
	for i := range rows {
		sortRows(rows[i].sessions, order)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "keeper top - %s   %d programs, %d sessions   sort: %s (m c n, q quits)\n",
		time.Now().Format("15:04:05"), len(infos), len(sessions), order)
	fmt.Fprintf(&b, "total: mem %s, cpu %.1f%%, %d processes\n\n", formatUsageMem(total), total.CPUPercent, total.Processes)
	fmt.Fprintf(&b, "%-36s %-9s %8s %8s %6s %6s\n", "NAME", "STATE", "PID", "MEM", "CPU", "PROCS")
	line := func(indent, name string, r topRow) {
		mem, cpu, procs := "-", "-", "-"
		if r.usage != nil {
			mem, cpu, procs = formatUsageMem(*r.usage), fmt.Sprintf("%.1f%%", r.usage.CPUPercent), fmt.Sprint(r.usage.Processes)
		}
		fmt.Fprintf(&b, "%-36s %-9s %8s %8s %6s %6s\n", shorten(indent+name, 36), shorten(r.state, 9), r.detail, mem, cpu, procs)
	}
	for _, r := range rows {
		line("", r.name, r)
		for _, s := range r.sessions {
			line("  ", "session "+s.name, s)
		}
	}
	return b.String(), nil
}

// sortRows orders rows by order, biggest first, names breaking ties.
func sortRows(rows []topRow, order topSort) {
	key := func(r topRow) float64 {
		if r.usage == nil {
			return -1
		}
		if order == sortCPU {
			return r.usage.CPUPercent
		}
		return float64(max(r.usage.PSS, r.usage.RSS))
	}
	slices.SortStableFunc(rows, func(a, b topRow) int {
		if order != sortName {
			if c := cmp.Compare(key(b), key(a)); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.name, b.name)
	})
}

// terminalState is a terminal's settings to put back.
type terminalState struct {
	fd   int
	orig unix.Termios
}

// stdinTerminal puts standard input, when it is a terminal, in a mode
// where keys arrive one by one without echo (Ctrl-C still interrupts).
func stdinTerminal() (*terminalState, bool) {
	fd := int(os.Stdin.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, false
	}
	s := &terminalState{fd: fd, orig: *t}
	keys := *t
	keys.Lflag &^= unix.ICANON | unix.ECHO
	keys.Cc[unix.VMIN], keys.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &keys); err != nil {
		return nil, false
	}
	return s, true
}

func (s *terminalState) restore() { _ = unix.IoctlSetTermios(s.fd, unix.TCSETS, &s.orig) }
