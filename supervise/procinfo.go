package supervise

import (
	"fmt"

	"keeper/supervise/xmlrpc"
)

// ProcessInfo is supervisord's getProcessInfo record: the daemon encodes it
// with Struct, clients (keeper's CLI, the benchmarks, the tests) decode it
// with DecodeProcessInfo, and the JSON of `keeper status --json` uses its
// member names.
type ProcessInfo struct {
	Name          string `json:"name"`
	Group         string `json:"group"`
	Start         int    `json:"start"` // unix seconds; 0 when never
	Stop          int    `json:"stop"`
	Now           int    `json:"now"`
	State         State  `json:"state"`
	StateName     string `json:"statename"`
	SpawnErr      string `json:"spawnerr"`
	ExitStatus    int    `json:"exitstatus"`
	Logfile       string `json:"-"` // supervisord's older name of StdoutLogfile
	StdoutLogfile string `json:"stdout_logfile"`
	StderrLogfile string `json:"stderr_logfile"`
	PID           int    `json:"pid"`
	Description   string `json:"description"`
}

// Namespec is the name supervisorctl shows.
func (i ProcessInfo) Namespec() string { return Namespec(i.Group, i.Name) }

// Struct encodes the record with supervisord's members, in its order.
func (i ProcessInfo) Struct() xmlrpc.Struct {
	return xmlrpc.Struct{
		{Name: "name", Value: i.Name},
		{Name: "group", Value: i.Group},
		{Name: "start", Value: i.Start},
		{Name: "stop", Value: i.Stop},
		{Name: "now", Value: i.Now},
		{Name: "state", Value: int(i.State)},
		{Name: "statename", Value: i.StateName},
		{Name: "spawnerr", Value: i.SpawnErr},
		{Name: "exitstatus", Value: i.ExitStatus},
		{Name: "logfile", Value: i.Logfile},
		{Name: "stdout_logfile", Value: i.StdoutLogfile},
		{Name: "stderr_logfile", Value: i.StderrLogfile},
		{Name: "pid", Value: i.PID},
		{Name: "description", Value: i.Description},
	}
}

// DecodeProcessInfo reads one getProcessInfo answer, from keeper or from
// supervisord. name, group and state must be there with their types; the
// other members are read when present.
func DecodeProcessInfo(v any) (ProcessInfo, error) {
	s, ok := v.(xmlrpc.Struct)
	if !ok {
		return ProcessInfo{}, fmt.Errorf("decode process info: got %T, want a struct", v)
	}
	var i ProcessInfo
	var state int
	for _, m := range []struct {
		name     string
		dst      any
		required bool
	}{
		{"name", &i.Name, true},
		{"group", &i.Group, true},
		{"state", &state, true},
		{"start", &i.Start, false},
		{"stop", &i.Stop, false},
		{"now", &i.Now, false},
		{"statename", &i.StateName, false},
		{"spawnerr", &i.SpawnErr, false},
		{"exitstatus", &i.ExitStatus, false},
		{"logfile", &i.Logfile, false},
		{"stdout_logfile", &i.StdoutLogfile, false},
		{"stderr_logfile", &i.StderrLogfile, false},
		{"pid", &i.PID, false},
		{"description", &i.Description, false},
	} {
		val, ok := s.Get(m.name)
		if !ok {
			if m.required {
				return ProcessInfo{}, fmt.Errorf("decode process info: no member %q", m.name)
			}
			continue
		}
		var typeOK bool
		switch dst := m.dst.(type) {
		case *string:
			*dst, typeOK = val.(string)
		case *int:
			*dst, typeOK = val.(int)
		}
		if !typeOK {
			return ProcessInfo{}, fmt.Errorf("decode process info: member %q is %T", m.name, val)
		}
	}
	i.State = State(state)
	return i, nil
}

// DecodeProcessInfos reads a getAllProcessInfo answer.
func DecodeProcessInfos(v any) ([]ProcessInfo, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("decode process infos: got %T, want an array", v)
	}
	out := make([]ProcessInfo, 0, len(list))
	for _, item := range list {
		i, err := DecodeProcessInfo(item)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, nil
}
