package supervise

import (
	"context"
	"maps"
	"slices"
	"time"

	"keeper/supervise/xmlrpc"
)

// keeperMethods are keeper's own calls, under the keeper. namespace beside
// supervisord's: sessions, and stop and shutdown with a sessions mode.
func keeperMethods() map[string]*rpcMethod {
	return map[string]*rpcMethod{
		"keeper.getSessions": {
			signature: []string{"array", "array", "boolean"},
			help: "List the detached terminal sessions of the named programs (all when the array is empty); " +
				"with true, each with its resource usage too, as keeper.getSessionUsage gives it.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				if !args.flag(1, false) {
					list, err := d.Sessions(names(args, 0))
					if err != nil {
						return nil, fault(FaultFailed, err.Error())
					}
					return sessionStructs(list), nil
				}
				list, usage, err := d.sessionsWithUsage(names(args, 0))
				if err != nil {
					return nil, fault(FaultFailed, err.Error())
				}
				out := sessionStructs(list)
				for i, s := range list {
					if u, ok := usage[s.Socket]; ok {
						// The usage's members after its key, the socket.
						out[i] = append(out[i].(xmlrpc.Struct), u.Struct("socket", s.Socket)[1:]...)
					}
				}
				return out, nil
			},
		},
		"keeper.getTerminal": {
			signature: []string{"string", "string"},
			help:      "The socket of a pty = true program's terminal (its master), to attach to; \"\" for a program that has none.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				name, err := args.str(0)
				if err != nil {
					return nil, err
				}
				return d.terminalSocket(name)
			},
		},
		"keeper.getTracking": {
			signature: []string{"string"},
			help:      "Say how the daemon tells a program's processes from others: cgroup v2, or process groups and the instance mark.",
			call: func(_ context.Context, d *Daemon, _ params) (any, error) {
				return d.track.String(), nil
			},
		},
		"keeper.killSessions": {
			signature: []string{"array", "array"},
			help:      "Reap the sessions of the named programs (all when the array is empty); return those reaped.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				list, err := d.KillSessions(names(args, 0))
				if err != nil {
					return nil, fault(FaultFailed, err.Error())
				}
				return sessionStructs(list), nil
			},
		},
		"keeper.stopProcess": {
			signature: []string{"array", "string", "boolean", "string"},
			help: "Stop a process (name or group:*) like supervisor.stopProcess; sessions \"keep\" or \"kill\" " +
				"(\"\" for the program's sessions= key). Return the sessions reaped.",
			call: func(ctx context.Context, d *Daemon, args params) (any, error) {
				name, err := args.str(0)
				if err != nil {
					return nil, err
				}
				mode := ""
				if len(args) > 2 {
					if mode, err = args.str(2); err != nil {
						return nil, err
					}
				}
				return d.stopWithSessions(ctx, name, args.flag(1, true), mode)
			},
		},
		"keeper.missingDependencies": {
			signature: []string{"array", "string"},
			help:      "The processes that depends_on makes a start of the named one start first: those not running, in start order.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				name, err := args.str(0)
				if err != nil {
					return nil, err
				}
				d.mu.Lock()
				defer d.mu.Unlock()
				_, p, err := d.targetLocked(name)
				if err != nil || p == nil {
					return []any{}, nil
				}
				return strs(d.missingDependenciesLocked(p)), nil
			},
		},
		"keeper.getProcessUsage": {
			signature: []string{"array", "array"},
			help:      "Resource usage of the named programs' running processes (all when the array is empty), each summed over its process tree less its sessions: rss_kb, pss_kb, cpu_percent (since the previous call), cpu_seconds, processes, threads, fds.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				usage, err := d.ProgramUsage(names(args, 0))
				if err != nil {
					return nil, fault(FaultFailed, err.Error())
				}
				out := make([]any, 0, len(usage))
				for _, name := range slices.Sorted(maps.Keys(usage)) {
					out = append(out, usage[name].Struct("namespec", name))
				}
				return out, nil
			},
		},
		"keeper.getSessionUsage": {
			signature: []string{"array", "array"},
			help:      "Resource usage of the named programs' sessions (all when the array is empty), each summed over its master and everything on its pty, by socket.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				list, usage, err := d.sessionsWithUsage(names(args, 0))
				if err != nil {
					return nil, fault(FaultFailed, err.Error())
				}
				out := make([]any, 0, len(list))
				for _, s := range list {
					out = append(out, usage[s.Socket].Struct("socket", s.Socket))
				}
				return out, nil
			},
		},
		"keeper.shutdown": {
			signature: []string{"boolean", "string", "boolean"},
			help: "Shut down; sessions \"keep\" or \"kill\" (\"\" for each program's sessions= key); " +
				"true after it leaves pty = true programs running for the next daemon.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				mode := ""
				if len(args) > 0 {
					var err error
					if mode, err = args.str(0); err != nil {
						return nil, err
					}
				}
				keepPrograms := args.flag(1, false)
				if mode != "" && mode != string(SessionsKeep) && mode != string(SessionsKill) {
					return nil, fault(FaultBadArguments, "sessions mode "+mode+" is not keep or kill")
				}
				d.mu.Lock()
				d.shutdownMode = Sessions(mode)
				d.keepPtyPrograms = keepPrograms
				d.mu.Unlock()
				d.Shutdown()
				return true, nil
			},
		},
	}
}

func names(args params, i int) []string {
	if i >= len(args) {
		return nil
	}
	list, _ := args[i].([]any)
	var out []string
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// sessionStructs encodes sessions for XML-RPC.
func sessionStructs(list []Session) []any {
	out := make([]any, len(list))
	now := time.Now()
	for i, s := range list {
		out[i] = xmlrpc.Struct{
			{Name: "program", Value: s.Program},
			{Name: "name", Value: s.Name},
			{Name: "socket", Value: s.Socket},
			{Name: "pid", Value: s.PID},
			{Name: "start_time", Value: int(s.StartTime)},
			{Name: "maker", Value: s.Maker},
			{Name: "child_pid", Value: s.Child},
			{Name: "command", Value: s.Command},
			{Name: "clients", Value: s.Clients},
			{Name: "state", Value: s.State()},
			{Name: "created", Value: int(s.Created.Unix())},
			{Name: "age", Value: int(now.Sub(s.Created) / time.Second)},
		}
	}
	return out
}

// stopWithSessions stops name (a process or a group) and then keeps or
// reaps its sessions; it returns the sessions reaped.
func (d *Daemon) stopWithSessions(ctx context.Context, name string, wait bool, mode string) (any, error) {
	if mode != "" && mode != string(SessionsKeep) && mode != string(SessionsKill) {
		return nil, fault(FaultBadArguments, "sessions mode "+mode+" is not keep or kill")
	}
	d.mu.Lock()
	g, p, err := d.targetLocked(name)
	var procs []*process
	if err == nil {
		if p != nil {
			procs = []*process{p}
		} else {
			procs = g.sorted(false)
		}
	}
	var reap []string
	for _, q := range procs {
		// The reaping below is done here, not by the exit handler.
		d.stopMode[q] = SessionsKeep
		if sessionsMode(mode, q.cfg) == SessionsKill {
			reap = append(reap, q.namespec())
		}
	}
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if p != nil {
		if err := d.stopProcess(ctx, p, name, true); err != nil {
			d.mu.Lock()
			delete(d.stopMode, p)
			d.mu.Unlock()
			return nil, err
		}
	} else {
		d.stopProcs(ctx, procs, true)
	}
	d.mu.Lock()
	for _, q := range procs {
		delete(d.stopMode, q)
	}
	d.mu.Unlock()
	if len(reap) == 0 {
		return []any{}, nil
	}
	list, err := d.KillSessions(reap)
	if err != nil {
		return nil, fault(FaultFailed, err.Error())
	}
	// A session the program was making as it stopped may only now be
	// listening: look once more after a moment.
	time.Sleep(100 * time.Millisecond)
	if late, err := d.KillSessions(reap); err == nil {
		list = append(list, late...)
	}
	return sessionStructs(list), nil
}
