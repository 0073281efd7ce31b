package ini

import (
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
)

// ErrUnknownName is wrapped by the error Expand returns for a %(name) that vars does not have.
var ErrUnknownName = errors.New("unknown name")

// Expand applies Python's %-formatting with a mapping, as supervisord does to option values: "%%" is
// "%", and "%(name)s" is the value of vars[name]. Flags, width and precision work as in Python
// ("%(process_num)02d", "%(name)-10s", "%(x).3s"); the conversions d, i, u, x, X and o need a value
// that is a decimal integer. A name missing from vars is an error (wrapping ErrUnknownName) that
// lists the names there are; names starting with "ENV_" are only counted.
func Expand(s string, vars map[string]string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == '%' {
			b.WriteByte('%')
			i += 2
			continue
		}
		if i+1 >= len(s) || s[i+1] != '(' {
			return "", fmt.Errorf(`expand %q: "%%" at offset %d is not followed by "%%" or "(name)"`, s, i)
		}
		// %(name): the name ends at the matching parenthesis, as in Python.
		j, depth := i+2, 1
		for ; j < len(s) && depth > 0; j++ {
			switch s[j] {
			case '(':
				depth++
			case ')':
				depth--
			}
		}
		if depth > 0 {
			return "", fmt.Errorf("expand %s: no closing parenthesis", s[i:])
		}
		name := s[i+2 : j-1]
		k := j
		for k < len(s) && strings.IndexByte("-+ #0", s[k]) >= 0 {
			k++
		}
		flags := s[j:k]
		w := k
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		width := s[w:k]
		prec := ""
		if k < len(s) && s[k] == '.' {
			p := k
			k++
			for k < len(s) && s[k] >= '0' && s[k] <= '9' {
				k++
			}
			prec = s[p:k]
		}
		for k < len(s) && strings.IndexByte("hlL", s[k]) >= 0 {
			k++
		}
		if k >= len(s) {
			return "", fmt.Errorf("expand %s: incomplete format", s[i:])
		}
		conv := s[k]
		directive := s[i : k+1]
		i = k + 1
		if len(width) > 4 || len(prec) > 5 {
			return "", fmt.Errorf("expand %s: width or precision is too large", directive)
		}

		val, ok := vars[name]
		if !ok {
			return "", fmt.Errorf("expand %s: %w %q (names: %s)", directive, ErrUnknownName, name, nameList(vars))
		}
		switch conv {
		case 's':
			// Python ignores the 0 and # flags for strings.
			flags = strings.NewReplacer("0", "", "#", "").Replace(flags)
			fmt.Fprintf(&b, "%"+flags+width+prec+"s", val)
		case 'd', 'i', 'u', 'x', 'X', 'o':
			n, ok := new(big.Int).SetString(val, 10)
			if !ok {
				return "", fmt.Errorf("expand %s: %s is %q, not an integer", directive, name, val)
			}
			verb := string(conv)
			switch conv {
			case 'd', 'i', 'u':
				verb = "d"
			case 'o':
				if strings.Contains(flags, "#") {
					flags = strings.ReplaceAll(flags, "#", "")
					verb = "O"
				}
			}
			fmt.Fprintf(&b, "%"+flags+width+prec+verb, n)
		default:
			return "", fmt.Errorf("expand %s: unsupported conversion %q (use s, d, i, u, x, X or o)", directive, conv)
		}
	}
	return b.String(), nil
}

// nameList lists the names of vars for an error message, summarising the ENV_ ones.
func nameList(vars map[string]string) string {
	var names []string
	env := 0
	for k := range vars {
		if strings.HasPrefix(k, "ENV_") {
			env++
			continue
		}
		names = append(names, k)
	}
	sort.Strings(names)
	list := strings.Join(names, ", ")
	if env > 0 {
		if list != "" {
			list += " and "
		}
		list += fmt.Sprintf("ENV_X for %d environment variables", env)
	}
	if list == "" {
		list = "none"
	}
	return list
}
