package ini

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Load parses the file at path and the files its [include] section names, as supervisord does:
// "files" is expanded with vars plus "here" (the directory of path), split at whitespace into glob
// patterns relative to that directory, and each pattern's matches are read in sorted order. Only the
// main file's [include] is followed; an [include] in an included file is kept but ignored, with a
// warning. Every path recorded in the result is absolute.
//
// A section defined in two files is an error, like one defined twice in a file. A pattern that matches
// nothing, a match that is a directory and a file matched twice are warnings.
func Load(path string, vars map[string]string) (*File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	f := &File{}
	if err := readFile(f, abs); err != nil {
		return nil, err
	}
	inc := f.Section("include")
	if inc == nil {
		return f, nil
	}
	files := inc.Get("files")
	if files == nil {
		return nil, &Error{Op: "load", File: inc.File, Line: inc.Line, Msg: `[include] has no "files" option`}
	}
	v := make(map[string]string, len(vars)+1)
	maps.Copy(v, vars)
	base := filepath.Dir(abs)
	v["here"] = base
	value, err := Expand(files.Value, v)
	if err != nil {
		return nil, &Error{Op: "load", File: files.File, Line: files.Line, Msg: "[include] files", Err: err}
	}
	read := map[string]bool{abs: true}
	for _, pattern := range strings.Fields(value) {
		if !filepath.IsAbs(pattern) {
			pattern = filepath.Join(base, pattern)
		}
		matches, err := glob(pattern)
		if err != nil {
			return nil, &Error{Op: "load", File: files.File, Line: files.Line, Msg: "[include] files", Err: err}
		}
		if len(matches) == 0 {
			f.Warnings = append(f.Warnings, Warning{File: files.File, Line: files.Line,
				Message: fmt.Sprintf("[include] files: no file matches %s", pattern)})
			continue
		}
		for _, m := range matches {
			warn := func(msg string) {
				f.Warnings = append(f.Warnings, Warning{File: files.File, Line: files.Line,
					Message: fmt.Sprintf("[include] files: %s %s", m, msg)})
			}
			if read[m] {
				warn("is already read; not read again")
				continue
			}
			if st, err := os.Stat(m); err == nil && st.IsDir() {
				warn("is a directory; skipped")
				continue
			}
			read[m] = true
			if err := readFile(f, m); err != nil {
				return nil, err
			}
		}
	}
	return f, nil
}

// readFile parses the file at abs and appends its sections to f, refusing a section that f already has
// (except [include], which only the main file may use).
func readFile(f *File, abs string) error {
	data, err := os.ReadFile(abs)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return &Error{Op: "load", File: abs, Err: err}
	}
	one := &File{}
	if err := parseInto(one, data, abs); err != nil {
		return err
	}
	main := len(f.Files) == 0
	f.Files = append(f.Files, abs)
	f.Warnings = append(f.Warnings, one.Warnings...)
	for _, s := range one.Sections {
		if s.Name == "include" && !main {
			f.Warnings = append(f.Warnings, Warning{File: s.File, Line: s.Line,
				Message: "[include] in an included file is ignored (only the main file's [include] is read)"})
		} else if prev := f.Section(s.Name); prev != nil {
			return &Error{Op: "load", File: s.File, Line: s.Line,
				Msg: fmt.Sprintf("section [%s] is already defined at %s:%d", s.Name, prev.File, prev.Line)}
		}
		f.Sections = append(f.Sections, s)
	}
	return nil
}

// glob matches pattern like Python's glob.glob: "[!...]" negates a class, a backslash is an ordinary
// character, and a wildcard does not match a name starting with "." unless the pattern's element
// does. The result is sorted.
func glob(pattern string) ([]string, error) {
	pattern = filepath.Clean(pattern)
	goPattern := strings.ReplaceAll(pattern, `\`, `\\`)
	goPattern = strings.ReplaceAll(goPattern, "[!", "[^")
	matches, err := filepath.Glob(goPattern)
	if err != nil {
		return nil, fmt.Errorf("glob %s: %w", pattern, err)
	}
	elems := strings.Split(pattern, string(filepath.Separator))
	out := matches[:0]
	for _, m := range matches {
		if !hiddenMatch(elems, strings.Split(m, string(filepath.Separator))) {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out, nil
}

// hiddenMatch reports whether a wildcard element of the pattern matched a dot file.
func hiddenMatch(pattern, match []string) bool {
	if len(pattern) != len(match) {
		return false
	}
	for i, p := range pattern {
		if strings.ContainsAny(p, "*?[") && !strings.HasPrefix(p, ".") && strings.HasPrefix(match[i], ".") {
			return true
		}
	}
	return false
}
