package detach

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseDtach(t *testing.T) {
	tests := []struct {
		args    string
		want    dtachRun
		wantErr string // substring of the message, "" for success
	}{
		{args: "-a s", want: dtachRun{mode: 'a', socket: "s", detachChar: DefaultDetachChar}},
		{args: "-c s -E -z -r none ssh -S x -a --sshfp", want: dtachRun{mode: 'c', socket: "s", detachChar: NoDetachChar,
			noSuspend: true, redraw: RedrawNone, argv: []string{"ssh", "-S", "x", "-a", "--sshfp"}}},
		{args: "-A s -Ez -r winch sh", want: dtachRun{mode: 'A', socket: "s", detachChar: NoDetachChar, noSuspend: true,
			redraw: RedrawWinch, argv: []string{"sh"}}},
		{args: "-n s -e ^A sh", want: dtachRun{mode: 'n', socket: "s", detachChar: 1, argv: []string{"sh"}}},
		{args: "-n s -e ^? sh", want: dtachRun{mode: 'n', socket: "s", detachChar: 0x7f, argv: []string{"sh"}}},
		{args: "-n s -e q sh", want: dtachRun{mode: 'n', socket: "s", detachChar: 'q', argv: []string{"sh"}}},
		// -e ends the letter group: the rest of "-ez" is not read.
		{args: "-n s -ez ^B sh", want: dtachRun{mode: 'n', socket: "s", detachChar: 2, argv: []string{"sh"}}},
		{args: "-N s -r ctrl_l sh -c", want: dtachRun{mode: 'N', socket: "s", detachChar: DefaultDetachChar,
			redraw: RedrawCtrlL, argv: []string{"sh", "-c"}}},
		{args: "-p s", want: dtachRun{mode: 'p', socket: "s", detachChar: DefaultDetachChar}},
		{args: "", wantErr: "No mode was specified."},
		{args: "s", wantErr: "No mode was specified."},
		{args: "-q", wantErr: "Invalid mode '-q'"},
		{args: "-a", wantErr: "No socket was specified."},
		{args: "-c s", wantErr: "No command was specified."},
		{args: "-c s -e", wantErr: "No escape character specified."},
		{args: "-c s -r", wantErr: "No redraw method specified."},
		{args: "-c s -r all sh", wantErr: "Invalid redraw method specified."},
		{args: "-c s -k sh", wantErr: "Invalid option '-k'"},
		{args: "-p s x", wantErr: "Invalid number of arguments."},
		{args: "--help", wantErr: "Usage:"},
		{args: "--he", wantErr: "Usage:"},
		{args: "-", wantErr: "Usage:"},
		{args: "--version", wantErr: "dtach - version 0.9"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			r, uerr := parseDtach("dtach", "test", strings.Fields(tt.args))
			if tt.wantErr != "" {
				if uerr == nil || !strings.Contains(uerr.msg, tt.wantErr) {
					t.Fatalf("got %+v, %v; want message %q", r, uerr, tt.wantErr)
				}
				return
			}
			if uerr != nil {
				t.Fatalf("unexpected message %q", uerr.msg)
			}
			if r.mode != tt.want.mode || r.socket != tt.want.socket || r.detachChar != tt.want.detachChar ||
				r.redraw != tt.want.redraw || r.noSuspend != tt.want.noSuspend || !slices.Equal(r.argv, tt.want.argv) {
				t.Errorf("got %+v, want %+v", *r, tt.want)
			}
		})
	}
}

func TestCheckSocketPath(t *testing.T) {
	long := "/" + strings.Repeat("d", 200) + "/s"
	if err := CheckSocketPath(long); err != nil {
		t.Errorf("a long path with a short name: %v", err)
	}
	err := CheckSocketPath("/tmp/" + strings.Repeat("n", maxSunPath+1))
	if !errors.Is(err, ErrNameTooLong) {
		t.Errorf("an over-long name: %v, want ErrNameTooLong", err)
	}
	if err := CheckSocketPath("/tmp/" + strings.Repeat("n", maxSunPath)); err != nil {
		t.Errorf("a name of exactly %d bytes: %v", maxSunPath, err)
	}
}
