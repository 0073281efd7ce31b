package ini

import (
	"errors"
	"fmt"
	"strings"
)

// Split splits a command line into words like Python's shlex.split in POSIX mode, which is how
// supervisord turns "command" into argv: words are separated by spaces, tabs and newlines; single
// quotes keep everything literally; double quotes keep everything but a backslash before '"' or '\';
// outside quotes a backslash keeps the next character literally. "#" is an ordinary character.
func Split(s string) ([]string, error) {
	const (
		stSpace = iota
		stWord
		stSingle
		stDouble
	)
	var (
		words  []string
		word   strings.Builder
		quoted bool // the current word had quotes, so it exists even if empty
		state  = stSpace
	)
	emit := func() {
		if word.Len() > 0 || quoted {
			words = append(words, word.String())
		}
		word.Reset()
		quoted = false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch state {
		case stSpace, stWord:
			switch {
			case c == ' ' || c == '\t' || c == '\r' || c == '\n':
				emit()
				state = stSpace
			case c == '\'':
				state, quoted = stSingle, true
			case c == '"':
				state, quoted = stDouble, true
			case c == '\\':
				if i+1 >= len(s) {
					return nil, fmt.Errorf("split %q: no character after the final backslash", s)
				}
				i++
				word.WriteByte(s[i])
				state = stWord
			default:
				word.WriteByte(c)
				state = stWord
			}
		case stSingle:
			if c == '\'' {
				state = stWord
			} else {
				word.WriteByte(c)
			}
		case stDouble:
			switch {
			case c == '"':
				state = stWord
			case c == '\\':
				if i+1 >= len(s) {
					return nil, fmt.Errorf("split %q: no closing quotation", s)
				}
				if n := s[i+1]; n == '"' || n == '\\' {
					i++
					word.WriteByte(n)
				} else {
					word.WriteByte(c)
				}
			default:
				word.WriteByte(c)
			}
		}
	}
	if state == stSingle || state == stDouble {
		return nil, fmt.Errorf("split %q: no closing quotation", s)
	}
	emit()
	return words, nil
}

// ErrKeyValues is wrapped by the error KeyValues returns for a malformed list.
var ErrKeyValues = errors.New(`not a list of KEY=value separated by ","`)

// KeyValues parses supervisord's "environment" syntax, KEY="value",KEY2=value2, exactly as
// supervisord does (Python's shlex in non-POSIX mode, words made of letters, digits and "_/.+-():"):
// a value with other characters (spaces, commas, "$", "=", ...) must be quoted; the quotes around a
// value are removed; "#" outside quotes starts a comment to the end of the line. It returns "KEY=value"
// strings in order of first appearance; a key given again replaces the earlier value in place.
//
// supervisord skips whatever single token follows a pair, so it reads A=$HOME as A="$" and A=b c as
// A="b"; KeyValues refuses a separator other than "," instead of dropping text silently.
func KeyValues(s string) ([]string, error) {
	tokens, err := kvTokens(s)
	if err != nil {
		return nil, err
	}
	var out []string
	index := map[string]int{}
	for i := 0; i < len(tokens); i += 4 {
		if i+3 > len(tokens) || tokens[i+1] != "=" {
			return nil, fmt.Errorf("parse %q: %w", s, ErrKeyValues)
		}
		if i+3 < len(tokens) && tokens[i+3] != "," {
			return nil, fmt.Errorf("parse %q: %w (%q after %s%s%s: quote values with spaces or symbols)",
				s, ErrKeyValues, tokens[i+3], tokens[i], tokens[i+1], tokens[i+2])
		}
		key, val := tokens[i], strings.Trim(tokens[i+2], `'"`)
		if at, ok := index[key]; ok {
			out[at] = key + "=" + val
			continue
		}
		index[key] = len(out)
		out = append(out, key+"="+val)
	}
	return out, nil
}

// kvTokens tokenises like Python's shlex.shlex(s) with "/.+-():" added to its word characters.
func kvTokens(s string) ([]string, error) {
	isWord := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("_/.+-():", r)
	}
	isSpace := func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' }
	rs := []rune(s)
	var tokens []string
	var tok []rune
	const (
		stSpace = iota
		stWord
		stQuote
	)
	state := stSpace
	var quote rune
	skipLine := func(i int) int { // index of the '\n' ending the line at i, or len(rs)
		for i < len(rs) && rs[i] != '\n' {
			i++
		}
		return i
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch state {
		case stSpace:
			switch {
			case isSpace(r):
			case r == '#':
				i = skipLine(i)
			case isWord(r):
				tok, state = []rune{r}, stWord
			case r == '\'' || r == '"':
				tok, state, quote = []rune{r}, stQuote, r
			default:
				tokens = append(tokens, string(r))
			}
		case stWord:
			switch {
			case isSpace(r):
				tokens = append(tokens, string(tok))
				state = stSpace
			case r == '#':
				// Non-POSIX shlex drops the rest of the line and goes on with the same word.
				i = skipLine(i)
			case isWord(r) || r == '\'' || r == '"':
				tok = append(tok, r)
			default:
				tokens = append(tokens, string(tok))
				state = stSpace
				i-- // read r again as the start of a token
			}
		case stQuote:
			tok = append(tok, r)
			if r == quote {
				tokens = append(tokens, string(tok))
				state = stSpace
			}
		}
	}
	switch state {
	case stWord:
		tokens = append(tokens, string(tok))
	case stQuote:
		return nil, fmt.Errorf("parse %q: no closing quotation", s)
	}
	return tokens, nil
}
