// Package ini reads the INI dialect of supervisord configuration files: Python configparser syntax, %-expansion and [include].
package ini

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Option is one "key = value" of a section. Key is lower-cased; Value is trimmed, and the lines of a
// multi-line value are joined with "\n". File and Line say where the key was written.
type Option struct {
	Key   string
	Value string
	File  string
	Line  int
}

// Section is one [name] of a file with its options in file order. Name is case-sensitive and kept as
// written between the brackets.
type Section struct {
	Name    string
	File    string
	Line    int
	Options []*Option
}

// Get returns the option named key (case-insensitive), or nil when the section has none.
func (s *Section) Get(key string) *Option {
	key = strings.ToLower(key)
	for _, o := range s.Options {
		if o.Key == key {
			return o
		}
	}
	return nil
}

// File is a parsed configuration: the sections of the main file followed by those of the files it
// includes, in the order they were read.
type File struct {
	Sections []*Section
	// Files lists every file read, the main file first (empty for Parse).
	Files []string
	// Warnings are problems that did not stop parsing, such as an include pattern that matches nothing.
	Warnings []Warning
}

// Section returns the first section called name (case-sensitive), or nil.
func (f *File) Section(name string) *Section {
	for _, s := range f.Sections {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Warning is a problem at a place in a file that does not stop reading it.
type Warning struct {
	File    string
	Line    int
	Message string
}

// String formats the warning as "file:line: message".
func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Message)
	}
	return fmt.Sprintf("%s: %s", w.File, w.Message)
}

// Error is an error at a place in a configuration file. It prints as "op file:line: msg".
type Error struct {
	Op   string // the operation: "parse", "load", ...
	File string
	Line int // 0 when the error concerns the whole file
	Msg  string
	Err  error // the underlying error, if any
}

// Error formats the error as "op file:line: msg: err".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteByte(' ')
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Parse reads one file in supervisord's INI dialect, without following [include]. filename is
// recorded in every section and option and used in errors.
//
// The rules are those of Python's configparser as supervisord configures it: "[name]" starts a
// section; "key = value" or "key: value" (split at the first "=" or ":") sets an option, the key
// lower-cased; a line indented deeper than its option's line continues the value; blank lines inside a
// value are kept and trailing ones dropped; lines whose first non-blank character is ";" or "#" are
// comments, and ";" or "#" after whitespace starts an inline comment. A section or key given twice is an
// error.
func Parse(r io.Reader, filename string) (*File, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &Error{Op: "parse", File: filename, Err: err}
	}
	f := &File{}
	if err := parseInto(f, data, filename); err != nil {
		return nil, err
	}
	return f, nil
}

// parseInto appends the sections of data to f. Duplicates are checked within data only.
func parseInto(f *File, data []byte, filename string) error {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.Split(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}

	var (
		sect   *Section
		opt    *Option  // option whose value may continue
		vals   []string // the lines of opt's value
		indent int      // indentation of opt's line
		seen   = map[string]*Section{}
		keys   map[string]*Option
	)
	flush := func() {
		if opt != nil {
			opt.Value = strings.TrimRightFunc(strings.Join(vals, "\n"), unicode.IsSpace)
		}
		opt, vals = nil, nil
	}
	for i, line := range lines {
		lineno := i + 1
		if !utf8.ValidString(line) {
			return &Error{Op: "parse", File: filename, Line: lineno, Msg: "line is not valid UTF-8"}
		}
		clean, comment := stripComment(line)
		if clean == "" {
			if !comment && opt != nil {
				vals = append(vals, "")
			}
			continue
		}
		cur := indentOf(line)
		if opt != nil && cur > indent {
			vals = append(vals, clean)
			continue
		}
		flush()
		indent = cur
		if name, rest, ok := sectionHeader(clean); ok {
			if prev := seen[name]; prev != nil {
				return &Error{Op: "parse", File: filename, Line: lineno,
					Msg: fmt.Sprintf("section [%s] is already defined at line %d", name, prev.Line)}
			}
			sect = &Section{Name: name, File: filename, Line: lineno}
			seen[name] = sect
			keys = map[string]*Option{}
			f.Sections = append(f.Sections, sect)
			if rest != "" {
				f.Warnings = append(f.Warnings, Warning{File: filename, Line: lineno,
					Message: fmt.Sprintf("text %q after [%s] is ignored", rest, name)})
			}
			continue
		}
		k := strings.IndexAny(clean, "=:")
		if k < 0 || strings.TrimRightFunc(clean[:k], unicode.IsSpace) == "" {
			return &Error{Op: "parse", File: filename, Line: lineno, Msg: `line is not "key = value" or a [section]`}
		}
		if sect == nil {
			return &Error{Op: "parse", File: filename, Line: lineno, Msg: "option before the first [section]"}
		}
		key := strings.ToLower(strings.TrimRightFunc(clean[:k], unicode.IsSpace))
		if prev := keys[key]; prev != nil {
			return &Error{Op: "parse", File: filename, Line: lineno,
				Msg: fmt.Sprintf("[%s] %s is already set at line %d", sect.Name, key, prev.Line)}
		}
		opt = &Option{Key: key, File: filename, Line: lineno}
		keys[key] = opt
		vals = []string{strings.TrimSpace(clean[k+1:])}
		sect.Options = append(sect.Options, opt)
	}
	flush()
	return nil
}

// stripComment removes a full-line or inline comment and surrounding whitespace from line, and says
// whether there was a comment.
func stripComment(line string) (clean string, comment bool) {
	trimmed := strings.TrimSpace(line)
	if strings.HasPrefix(trimmed, ";") || strings.HasPrefix(trimmed, "#") {
		return "", true
	}
	prevSpace := true
	for i, r := range line {
		if (r == ';' || r == '#') && prevSpace {
			return strings.TrimSpace(line[:i]), true
		}
		prevSpace = unicode.IsSpace(r)
	}
	return trimmed, false
}

// indentOf counts the whitespace characters that start line.
func indentOf(line string) int {
	n := 0
	for _, r := range line {
		if !unicode.IsSpace(r) {
			break
		}
		n++
	}
	return n
}

// sectionHeader recognises "[name]" as configparser does: the name runs from the first "[" to the last
// "]" and is not empty; text after the last "]" is returned in rest.
func sectionHeader(clean string) (name, rest string, ok bool) {
	if !strings.HasPrefix(clean, "[") {
		return "", "", false
	}
	end := strings.LastIndexByte(clean, ']')
	if end < 2 {
		return "", "", false
	}
	return clean[1:end], strings.TrimSpace(clean[end+1:]), true
}
