package ini

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParse checks that Parse, Expand, Split and KeyValues never panic, and that what Parse returns
// is well formed.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"",
		"[supervisord]\nlogfile=/tmp/supervisord.log ; main log\nloglevel=info\n",
		"[program:web]\ncommand=/bin/sh -c 'echo %(program_name)s'\nprocess_name=%(program_name)s_%(process_num)02d\nnumprocs=2\n",
		"[program:x]\nenvironment=A=1,B=\"x,y\",\n  C='z'\n",
		"[include]\nfiles = conf.d/*.conf\n",
		"[s]\nk = a\n\n  b\n; c\n  d #e\nj: 1\n",
		"\ufeff[s]\r\nk=v\r\n",
		"[a]b] tail\n[ x ]\n",
		"[s]\nk=%%(here)s %(x\n",
		"k=v\n[s]\n",
		"[s]\n=v\n",
		"[s]\nk=1\nK=2\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	vars := map[string]string{"here": "/x", "program_name": "p", "process_num": "1", "ENV_HOME": "/root"}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(bytes.NewReader(data), "fuzz.conf")
		if err != nil {
			if file != nil {
				t.Fatal("Parse returned a file and an error")
			}
			if !strings.HasPrefix(err.Error(), "parse fuzz.conf:") {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, s := range file.Sections {
			if s.Name == "" || s.Line < 1 || seen[s.Name] {
				t.Fatalf("bad section %+v", s)
			}
			seen[s.Name] = true
			for _, o := range s.Options {
				if o.Key == "" || o.Key != strings.ToLower(o.Key) || o.Line < s.Line {
					t.Fatalf("bad option %+v in [%s]", o, s.Name)
				}
				Expand(o.Value, vars)
				Split(o.Value)
				KeyValues(o.Value)
			}
		}
	})
}
