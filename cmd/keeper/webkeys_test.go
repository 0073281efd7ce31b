package main

import (
	"context"
	"encoding/json"
	"testing"
)

// keyCase is a key event (as the page's keydown handler sees it) or a
// paste, in the cursor-key and paste modes a frame set, and the bytes an
// xterm sends for it.
type keyCase struct {
	Event map[string]any `json:"e,omitempty"`
	Paste string         `json:"paste,omitempty"`
	App   bool           `json:"app"`   // application cursor keys (DECCKM)
	Brack bool           `json:"brack"` // bracketed paste
	want  string
}

// checkKeys runs the page's key translation (term.js's keyBytes and
// pasteBytes) in the tab over a table of keys and compares with xterm's
// bytes.
func checkKeys(t *testing.T, tab context.Context) {
	t.Helper()
	key := func(k string, mods ...string) map[string]any {
		e := map[string]any{"key": k}
		for _, m := range mods {
			e[m+"Key"] = true
		}
		return e
	}
	cases := []keyCase{
		{Event: key("a"), want: "a"},
		{Event: key("A", "shift"), want: "A"},
		{Event: key("é"), want: "é"},
		{Event: key("Enter"), want: "\r"},
		{Event: key("Backspace"), want: "\x7f"},
		{Event: key("Tab"), want: "\t"},
		{Event: key("Tab", "shift"), want: "\x1b[Z"},
		{Event: key("Escape"), want: "\x1b"},
		{Event: key("ArrowUp"), want: "\x1b[A"},
		{Event: key("ArrowLeft"), want: "\x1b[D"},
		{Event: key("ArrowUp"), App: true, want: "\x1bOA"},
		{Event: key("ArrowRight", "ctrl"), want: "\x1b[1;5C"},
		{Event: key("ArrowDown", "shift"), App: true, want: "\x1b[1;2B"},
		{Event: key("Home"), want: "\x1b[H"},
		{Event: key("End"), want: "\x1b[F"},
		{Event: key("Home"), App: true, want: "\x1bOH"},
		{Event: key("PageUp"), want: "\x1b[5~"},
		{Event: key("PageDown"), want: "\x1b[6~"},
		{Event: key("Insert"), want: "\x1b[2~"},
		{Event: key("Delete"), want: "\x1b[3~"},
		{Event: key("Delete", "shift"), want: "\x1b[3;2~"},
		{Event: key("F1"), want: "\x1bOP"},
		{Event: key("F4"), want: "\x1bOS"},
		{Event: key("F1", "ctrl"), want: "\x1b[1;5P"},
		{Event: key("F5"), want: "\x1b[15~"},
		{Event: key("F10"), want: "\x1b[21~"},
		{Event: key("F12"), want: "\x1b[24~"},
		{Event: key("F12", "ctrl"), want: "\x1b[24;5~"},
		{Event: key("c", "ctrl"), want: "\x03"},
		{Event: key("D", "ctrl", "shift"), want: "\x04"},
		{Event: key("[", "ctrl"), want: "\x1b"},
		{Event: key(" ", "ctrl"), want: "\x00"},
		{Event: key("x", "alt"), want: "\x1bx"},
		{Event: key("x", "ctrl", "alt"), want: "\x1b\x18"},
		{Event: key("Enter", "alt"), want: "\x1b\r"},
		{Event: key("a", "meta"), want: ""},
		{Event: key("Shift", "shift"), want: ""},
		{Paste: "ls\nrm x\r\n", want: "ls\rrm x\r"},
		{Paste: "ls\n", Brack: true, want: "\x1b[200~ls\r\x1b[201~"},
		{Paste: "a\x1b[201~rm -rf ~\n", Brack: true, want: "\x1b[200~arm -rf ~\r\x1b[201~"},
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	got := evaluate[[]string](t, tab, `(() => {
		const saved = modes;
		try {
			return `+string(in)+`.map((c) => {
				modes = { cursorKeys: c.app, paste: c.brack };
				return c.e ? keyBytes(Object.assign({ shiftKey: false, altKey: false, ctrlKey: false, metaKey: false }, c.e))
					: pasteBytes(c.paste);
			});
		} finally {
			modes = saved;
		}
	})()`)
	if len(got) != len(cases) {
		t.Fatalf("the page translated %d keys, want %d", len(got), len(cases))
	}
	for i, c := range cases {
		if got[i] != c.want {
			t.Errorf("key %v paste %q (cursor keys %v, bracketed %v): the page sends %q, want %q", c.Event, c.Paste, c.App, c.Brack, got[i], c.want)
		}
	}
}
