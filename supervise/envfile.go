package supervise

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// EnvFile is one file of environment_file: KEY=VALUE lines read at every
// start of the program.
type EnvFile struct {
	Path     string
	Optional bool // written with a leading "-": a missing file is skipped, as in systemd
}

// maxEnvFileBytes bounds an environment file: it is read at every start.
const maxEnvFileBytes = 1 << 20

// readEnvFiles reads files in order and returns their KEY=VALUE pairs, later
// files overriding earlier ones. A missing file that is not optional, or a
// line that is not KEY=VALUE, is an error naming the file (and line).
func readEnvFiles(files []EnvFile) ([]string, error) {
	var env []string
	for _, f := range files {
		kvs, err := readEnvFile(f.Path)
		if errors.Is(err, fs.ErrNotExist) && f.Optional {
			continue
		}
		if err != nil {
			return nil, err
		}
		env = mergeEnv(env, kvs)
	}
	return env, nil
}

func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("environment_file %s: %w", path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() > maxEnvFileBytes {
		return nil, fmt.Errorf("environment_file %s: not a regular file of at most %d bytes", path, maxEnvFileBytes)
	}
	var env []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, maxEnvFileBytes)
	for n := 1; sc.Scan(); n++ {
		kv, ok, err := parseEnvLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("environment_file %s:%d: %w", path, n, err)
		}
		if ok {
			env = mergeEnv(env, []string{kv})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("environment_file %s: %w", path, err)
	}
	return env, nil
}

// parseEnvLine reads one line of an environment file: blank lines and
// comments give ok false; "export " may precede KEY=VALUE; a value in single
// quotes is literal, one in double quotes takes backslash escapes (\" \\ \$
// \` and \n for a newline), an unquoted one is trimmed and ends at " #".
func parseEnvLine(line string) (kv string, ok bool, err error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", false, nil
	}
	line = strings.TrimPrefix(line, "export ")
	key, value, found := strings.Cut(line, "=")
	key = strings.TrimSpace(key)
	if !found || !validEnvKey(key) {
		return "", false, fmt.Errorf("%q is not KEY=VALUE", line)
	}
	value = strings.TrimLeft(value, " \t")
	switch {
	case strings.HasPrefix(value, "'"):
		end := strings.IndexByte(value[1:], '\'')
		if end < 0 || strings.TrimSpace(value[end+2:]) != "" {
			return "", false, fmt.Errorf("%s: unterminated or trailing text after a single-quoted value", key)
		}
		value = value[1 : end+1]
	case strings.HasPrefix(value, `"`):
		var b strings.Builder
		i := 1
		for ; i < len(value) && value[i] != '"'; i++ {
			if value[i] == '\\' && i+1 < len(value) {
				i++
				switch value[i] {
				case 'n':
					b.WriteByte('\n')
				case '"', '\\', '$', '`':
					b.WriteByte(value[i])
				default:
					b.WriteByte('\\')
					b.WriteByte(value[i])
				}
				continue
			}
			b.WriteByte(value[i])
		}
		if i >= len(value) || strings.TrimSpace(value[i+1:]) != "" {
			return "", false, fmt.Errorf("%s: unterminated or trailing text after a double-quoted value", key)
		}
		value = b.String()
	default:
		if i := strings.Index(value, " #"); i >= 0 {
			value = value[:i]
		}
		value = strings.TrimSpace(value)
	}
	return key + "=" + value, true, nil
}

// validEnvKey reports whether key is a shell variable name.
func validEnvKey(key string) bool {
	if key == "" || (key[0] >= '0' && key[0] <= '9') {
		return false
	}
	for _, c := range key {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
