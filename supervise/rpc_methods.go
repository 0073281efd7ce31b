package supervise

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"sort"
	"time"

	"keeper/supervise/logfile"
	"keeper/supervise/xmlrpc"
)

// newMethodTable builds the control socket's XML-RPC interface: supervisord
// 4's supervisor.* and system.* methods (so supervisorctl, Ansible and
// exporters work unchanged), its aliases, and keeper's own keeper.* methods
// (sessions_rpc.go). Each Daemon holds one; system.multicall dispatches
// through it, so it cannot be a package variable initialized from itself.
func newMethodTable() map[string]*rpcMethod {
	methods := map[string]*rpcMethod{
		"supervisor.getAPIVersion": {
			signature: []string{"string"},
			help:      "Return the version of the RPC API used by keeper (supervisord's 3.0).",
			call:      func(context.Context, *Daemon, params) (any, error) { return APIVersion, nil },
		},
		"supervisor.getSupervisorVersion": {
			signature: []string{"string"},
			help:      "Return the version of the keeper daemon.",
			call:      func(context.Context, *Daemon, params) (any, error) { return Version, nil },
		},
		"supervisor.getIdentification": {
			signature: []string{"string"},
			help:      "Return the identifier of this daemon ([supervisord] identifier).",
			call: func(_ context.Context, d *Daemon, _ params) (any, error) {
				return d.cfg.Supervisord.Identifier, nil
			},
		},
		"supervisor.getState": {
			signature: []string{"struct"},
			help:      "Return the daemon's state: a struct with int statecode and string statename.",
			anyMood:   true,
			call: func(_ context.Context, d *Daemon, _ params) (any, error) {
				d.mu.Lock()
				defer d.mu.Unlock()
				return xmlrpc.Struct{{Name: "statecode", Value: int(d.mood)}, {Name: "statename", Value: d.mood.String()}}, nil
			},
		},
		"supervisor.getPID": {
			signature: []string{"int"},
			help:      "Return the daemon's pid.",
			call:      func(context.Context, *Daemon, params) (any, error) { return os.Getpid(), nil },
		},
		"supervisor.readLog": {
			signature: []string{"string", "int", "int"},
			help:      "Read length bytes of the daemon's log from offset (a negative offset counts from the end).",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				return d.readLog(d.mainLogPath(), args)
			},
		},
		"supervisor.clearLog": {
			signature: []string{"boolean"},
			help:      "Clear the daemon's log.",
			call: func(_ context.Context, d *Daemon, _ params) (any, error) {
				if !exists(d.mainLogPath()) {
					return nil, fault(FaultNoFile)
				}
				if err := d.logFile.Clear(); err != nil {
					return nil, fault(FaultFailed)
				}
				d.log.Infof("reopening log file")
				return true, nil
			},
		},
		"supervisor.shutdown": {
			signature: []string{"boolean"},
			help:      "Stop every process (keeping their sessions) and exit.",
			call: func(_ context.Context, d *Daemon, _ params) (any, error) {
				d.Shutdown()
				return true, nil
			},
		},
		"supervisor.restart": {
			signature: []string{"boolean"},
			help:      "Stop every process, read the config again and start over.",
			call: func(_ context.Context, d *Daemon, _ params) (any, error) {
				d.Restart()
				return true, nil
			},
		},
		"keeper.reexec": {
			signature: []string{"int", "int"},
			help: "Execute the daemon's binary again in its own pid, keeping the control socket, every program " +
				"(pid, state, uptime, log pipes) and the sessions. Return the exec count (keeper.getReexec) the new " +
				"daemon will report; the exec may cut this connection. With a count, only a daemon whose count it " +
				"is executes: one that already did just returns its count (a retried call execs once).",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				count, _ := ReexecStatus()
				if len(args) > 0 {
					from, err := args.integer(0)
					if err != nil {
						return nil, err
					}
					if from != count {
						return count, nil
					}
				}
				if err := d.Reexec(); err != nil {
					return nil, fault(FaultFailed, err.Error())
				}
				return count + 1, nil
			},
		},
		"keeper.getReexec": {
			signature: []string{"struct"},
			help: "Return int count, the execs in place (keeper.reexec) since the daemon started, string error, " +
				"why the last one failed (empty when it did not), and boolean ready, whether the daemon has taken over its programs.",
			call: func(_ context.Context, d *Daemon, _ params) (any, error) {
				count, lastErr := ReexecStatus()
				d.mu.Lock()
				ready := d.supervising
				d.mu.Unlock()
				return xmlrpc.Struct{{Name: "count", Value: count}, {Name: "error", Value: lastErr}, {Name: "ready", Value: ready}}, nil
			},
		},
		"supervisor.reloadConfig": {
			signature: []string{"array"},
			help:      "Read the config again; return [[added, changed, removed]] group names.",
			call: func(_ context.Context, d *Daemon, _ params) (any, error) {
				added, changed, removed, err := d.Reread()
				if err != nil {
					return nil, fault(FaultCantReread, err.Error())
				}
				return []any{[]any{strs(added), strs(changed), strs(removed)}}, nil
			},
		},
		"supervisor.addProcessGroup": {
			signature: []string{"boolean", "string"},
			help:      "Activate a process group of the last read config.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				name, err := args.str(0)
				if err != nil {
					return nil, err
				}
				if err := d.AddGroup(name); err != nil {
					return nil, err
				}
				return true, nil
			},
		},
		"supervisor.removeProcessGroup": {
			signature: []string{"boolean", "string"},
			help:      "Deactivate a process group whose processes are all stopped.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				name, err := args.str(0)
				if err != nil {
					return nil, err
				}
				if err := d.RemoveGroup(name); err != nil {
					return nil, err
				}
				return true, nil
			},
		},
		"supervisor.startProcess": {
			signature: []string{"boolean", "string", "boolean"},
			help:      "Start a process (name, group:name or group:*); wait for it to be RUNNING unless wait is false.",
			call:      onTarget((*Daemon).startProcess, (*Daemon).startGroup),
		},
		"supervisor.startProcessGroup": {
			signature: []string{"array", "string", "boolean"},
			help:      "Start every process of a group; return one status struct per process.",
			call:      onGroup((*Daemon).startGroup),
		},
		"supervisor.startAllProcesses": {
			signature: []string{"array", "boolean"},
			help:      "Start every process; return one status struct per process.",
			call:      onAll((*Daemon).startProcs),
		},
		"supervisor.stopProcess": {
			signature: []string{"boolean", "string", "boolean"},
			help:      "Stop a process (name, group:name or group:*); wait for it to stop unless wait is false.",
			call:      onTarget((*Daemon).stopProcess, (*Daemon).stopGroup),
		},
		"supervisor.stopProcessGroup": {
			signature: []string{"array", "string", "boolean"},
			help:      "Stop every process of a group; return one status struct per process.",
			call:      onGroup((*Daemon).stopGroup),
		},
		"supervisor.stopAllProcesses": {
			signature: []string{"array", "boolean"},
			help:      "Stop every process; return one status struct per process.",
			call:      onAll((*Daemon).stopProcs),
		},
		"supervisor.signalProcess": {
			signature: []string{"boolean", "string", "string"},
			help:      "Send a signal (a name such as HUP, or a number) to a process.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				name, err := args.str(0)
				if err != nil {
					return nil, err
				}
				sigName, err := signalArg(args, 1)
				if err != nil {
					return nil, err
				}
				d.mu.Lock()
				g, p, err := d.targetLocked(name)
				d.mu.Unlock()
				if err != nil {
					return nil, err
				}
				if p == nil {
					return d.signalProcs(g.sorted(false), sigName)
				}
				if err := d.signalOne(p, name, sigName); err != nil {
					return nil, err
				}
				return true, nil
			},
		},
		"supervisor.signalProcessGroup": {
			signature: []string{"array", "string", "string"},
			help:      "Send a signal to every process of a group.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				g, err := d.group(args)
				if err != nil {
					return nil, err
				}
				sigName, err := signalArg(args, 1)
				if err != nil {
					return nil, err
				}
				return d.signalProcs(g.sorted(false), sigName)
			},
		},
		"supervisor.signalAllProcesses": {
			signature: []string{"array", "string"},
			help:      "Send a signal to every process.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				sigName, err := signalArg(args, 0)
				if err != nil {
					return nil, err
				}
				d.mu.Lock()
				procs := d.processesLocked(false)
				d.mu.Unlock()
				return d.signalProcs(procs, sigName)
			},
		},
		"supervisor.getAllConfigInfo": {
			signature: []string{"array"},
			help:      "Return the config of every process of the last read config, sorted by name.",
			call: func(_ context.Context, d *Daemon, _ params) (any, error) {
				d.mu.Lock()
				defer d.mu.Unlock()
				var out []xmlrpc.Struct
				for _, g := range d.read.Groups {
					active, inUse := d.groups[g.Name]
					for _, pc := range g.Processes {
						var p *process
						if inUse {
							p = active.procs[pc.Name]
						}
						out = append(out, configInfo(pc, g, inUse, p))
					}
				}
				sort.SliceStable(out, func(i, j int) bool {
					a, _ := out[i].Get("name")
					b, _ := out[j].Get("name")
					return a.(string) < b.(string)
				})
				return out, nil
			},
		},
		"supervisor.getProcessInfo": {
			signature: []string{"struct", "string"},
			help:      "Return the state of a process (name or group:name).",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				name, err := args.str(0)
				if err != nil {
					return nil, err
				}
				d.mu.Lock()
				defer d.mu.Unlock()
				_, p, err := d.targetLocked(name)
				if err != nil {
					return nil, err
				}
				if p == nil {
					return nil, fault(FaultBadName, name)
				}
				return d.processInfoLocked(p, time.Now()).Struct(), nil
			},
		},
		"supervisor.getAllProcessInfo": {
			signature: []string{"array"},
			help:      "Return the state of every process, sorted by group and name.",
			call: func(_ context.Context, d *Daemon, _ params) (any, error) {
				d.mu.Lock()
				defer d.mu.Unlock()
				now := time.Now()
				procs := d.processesLocked(true)
				out := make([]xmlrpc.Struct, len(procs))
				for i, p := range procs {
					out[i] = d.processInfoLocked(p, now).Struct()
				}
				return out, nil
			},
		},
		"supervisor.readProcessStdoutLog": {
			signature: []string{"string", "string", "int", "int"},
			help:      "Read length bytes of a process's stdout log from offset.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				return d.readProcessLog(args, "stdout")
			},
		},
		"supervisor.readProcessStderrLog": {
			signature: []string{"string", "string", "int", "int"},
			help:      "Read length bytes of a process's stderr log from offset.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				return d.readProcessLog(args, "stderr")
			},
		},
		"supervisor.tailProcessStdoutLog": {
			signature: []string{"array", "string", "int", "int"},
			help:      "Return [bytes, offset, overflow]: up to length bytes of the stdout log from offset.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				return d.tailProcessLog(args, "stdout")
			},
		},
		"supervisor.tailProcessStderrLog": {
			signature: []string{"array", "string", "int", "int"},
			help:      "Return [bytes, offset, overflow]: up to length bytes of the stderr log from offset.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				return d.tailProcessLog(args, "stderr")
			},
		},
		"supervisor.clearProcessLogs": {
			signature: []string{"boolean", "string"},
			help:      "Clear a process's stdout and stderr logs.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				name, err := args.str(0)
				if err != nil {
					return nil, err
				}
				d.mu.Lock()
				defer d.mu.Unlock()
				_, p, err := d.targetLocked(name)
				if err != nil {
					return nil, err
				}
				if p == nil {
					return nil, fault(FaultBadName, name)
				}
				if err := p.clearLogs(); err != nil {
					return nil, fault(FaultFailed, name)
				}
				return true, nil
			},
		},
		"supervisor.clearAllProcessLogs": {
			signature: []string{"array"},
			help:      "Clear every process's logs; return one status struct per process.",
			call: func(_ context.Context, d *Daemon, _ params) (any, error) {
				d.mu.Lock()
				defer d.mu.Unlock()
				var out []any
				for _, p := range d.processesLocked(false) {
					var err error
					if p.clearLogs() != nil {
						err = fault(FaultFailed, p.namespec())
					}
					out = append(out, result(p, err))
				}
				return out, nil
			},
		},
		"supervisor.sendProcessStdin": {
			signature: []string{"boolean", "string", "string"},
			help:      "Write chars to a process's stdin.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				name, err := args.str(0)
				if err != nil {
					return nil, err
				}
				chars, err := args.str(1)
				if err != nil {
					return nil, err
				}
				d.mu.Lock()
				defer d.mu.Unlock()
				_, p, err := d.targetLocked(name)
				if err != nil {
					return nil, err
				}
				if p == nil {
					return nil, fault(FaultBadName, name)
				}
				if p.pid == 0 || p.killing || p.stdin == nil {
					return nil, fault(FaultNotRunning, name)
				}
				// Queued, never written here: a program that does not
				// read its stdin must not block the daemon under d.mu.
				switch err := p.stdin.Write([]byte(chars)); {
				case errors.Is(err, errStdinClosed):
					return nil, fault(FaultNoFile, name)
				case errors.Is(err, errStdinFull):
					return nil, fault(FaultFailed, fmt.Sprintf("%s: %d bytes already wait for the program to read its stdin", name, maxStdinPending))
				}
				return true, nil
			},
		},
		"supervisor.sendRemoteCommEvent": {
			signature: []string{"boolean", "string", "string"},
			help:      "Send a REMOTE_COMMUNICATION event (payload \"type:TYPE\\nDATA\") to the event listeners subscribed to it.",
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				typ, err := args.str(0)
				if err != nil {
					return nil, err
				}
				data, err := args.str(1)
				if err != nil {
					return nil, err
				}
				d.mu.Lock()
				defer d.mu.Unlock()
				d.publishLocked(remoteCommEvent(typ, data))
				return true, nil
			},
		},
		"system.listMethods": {
			signature: []string{"array"},
			help:      "Return the names of the methods available, sorted.",
			anyMood:   true,
			call: func(_ context.Context, d *Daemon, _ params) (any, error) {
				names := make([]string, 0, len(d.methods))
				for name := range d.methods {
					names = append(names, name)
				}
				sort.Strings(names)
				return strs(names), nil
			},
		},
		"system.methodHelp": {
			signature: []string{"string", "string"},
			help:      "Return a method's documentation.",
			anyMood:   true,
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				name, err := args.str(0)
				if err != nil {
					return nil, err
				}
				m, ok := d.methods[name]
				if !ok {
					return nil, fault(FaultSignatureUnsupported)
				}
				return m.help, nil
			},
		},
		"system.methodSignature": {
			signature: []string{"array", "string"},
			help:      "Return a method's signature: [return type, parameter types...].",
			anyMood:   true,
			call: func(_ context.Context, d *Daemon, args params) (any, error) {
				name, err := args.str(0)
				if err != nil {
					return nil, err
				}
				m, ok := d.methods[name]
				if !ok {
					return nil, fault(FaultSignatureUnsupported)
				}
				return strs(m.signature), nil
			},
		},
		"system.multicall": {
			signature: []string{"array", "array"},
			help:      "Run an array of {methodName, params} calls; return their results, faults as structs.",
			anyMood:   true,
			call:      multicall,
		},
	}
	// supervisord's aliases, kept for old clients.
	aliases := map[string]string{
		"supervisor.getVersion":      "supervisor.getAPIVersion",
		"supervisor.readMainLog":     "supervisor.readLog",
		"supervisor.readProcessLog":  "supervisor.readProcessStdoutLog",
		"supervisor.tailProcessLog":  "supervisor.tailProcessStdoutLog",
		"supervisor.clearProcessLog": "supervisor.clearProcessLogs",
	}
	for alias, name := range aliases {
		methods[alias] = methods[name]
	}
	maps.Copy(methods, keeperMethods())
	return methods
}

func strs(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// multicall runs calls in order; like supervisord it returns each result
// bare (not wrapped in a one-element array) and each fault as a struct.
func multicall(ctx context.Context, d *Daemon, args params) (any, error) {
	if len(args) < 1 {
		return nil, fault(FaultIncorrectParameters)
	}
	calls, ok := args[0].([]any)
	if !ok {
		return nil, fault(FaultIncorrectParameters)
	}
	out := make([]any, 0, len(calls))
	for _, c := range calls {
		s, _ := c.(xmlrpc.Struct)
		name, _ := s.Get("methodName")
		callParams, _ := s.Get("params")
		method, _ := name.(string)
		var value any
		var err error
		switch {
		case name == nil:
			err = fault(FaultIncorrectParameters, "No methodName")
		case method == "system.multicall":
			err = fault(FaultIncorrectParameters, "Recursive system.multicall forbidden")
		default:
			p, _ := callParams.([]any)
			value, err = d.Handle(ctx, method, p)
		}
		if err != nil {
			var f *xmlrpc.Fault
			if !errors.As(err, &f) {
				f = &xmlrpc.Fault{Code: FaultFailed, String: "FAILED: " + err.Error()}
			}
			value = xmlrpc.Struct{{Name: "faultCode", Value: f.Code}, {Name: "faultString", Value: f.String}}
		}
		out = append(out, value)
	}
	return out, nil
}

// onTarget makes the body of a method that acts on the process its first
// argument names, or on a whole group for "group:*" (as supervisord's
// startProcess and stopProcess do), with its second argument as wait.
func onTarget(one func(d *Daemon, ctx context.Context, p *process, name string, wait bool) error,
	group func(d *Daemon, ctx context.Context, g *groupState, wait bool) (any, error)) func(context.Context, *Daemon, params) (any, error) {
	return func(ctx context.Context, d *Daemon, args params) (any, error) {
		name, err := args.str(0)
		if err != nil {
			return nil, err
		}
		d.mu.Lock()
		g, p, err := d.targetLocked(name)
		d.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if p == nil {
			return group(d, ctx, g, args.flag(1, true))
		}
		if err := one(d, ctx, p, name, args.flag(1, true)); err != nil {
			return nil, err
		}
		return true, nil
	}
}

// onGroup makes the body of a method on the group its first argument
// names, with its second argument as wait.
func onGroup(fn func(d *Daemon, ctx context.Context, g *groupState, wait bool) (any, error)) func(context.Context, *Daemon, params) (any, error) {
	return func(ctx context.Context, d *Daemon, args params) (any, error) {
		g, err := d.group(args)
		if err != nil {
			return nil, err
		}
		return fn(d, ctx, g, args.flag(1, true))
	}
}

// onAll makes the body of a method on every process, in start order, with
// its first argument as wait.
func onAll(fn func(d *Daemon, ctx context.Context, procs []*process, wait bool) []any) func(context.Context, *Daemon, params) (any, error) {
	return func(ctx context.Context, d *Daemon, args params) (any, error) {
		d.mu.Lock()
		procs := d.processesLocked(false)
		d.mu.Unlock()
		return fn(d, ctx, procs, args.flag(0, true)), nil
	}
}

func (d *Daemon) group(args params) (*groupState, error) {
	name, err := args.str(0)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.groups[name]
	if !ok {
		return nil, fault(FaultBadName, name)
	}
	return g, nil
}

func (d *Daemon) startGroup(ctx context.Context, g *groupState, wait bool) (any, error) {
	d.mu.Lock()
	procs := g.sorted(false)
	d.mu.Unlock()
	return d.startProcs(ctx, procs, wait), nil
}

func (d *Daemon) startProcs(ctx context.Context, procs []*process, wait bool) []any {
	d.mu.Lock()
	procs = d.selectLocked(procs, func(p *process) bool { return !p.state.running() })
	d.mu.Unlock()
	var await func(p *process) error
	if wait {
		await = func(p *process) error { return d.awaitStart(ctx, p, p.namespec()) }
	}
	return forEach(procs, func(p *process) (bool, error) { return d.beginStart(p, p.namespec()) }, await)
}

func (d *Daemon) stopGroup(ctx context.Context, g *groupState, wait bool) (any, error) {
	d.mu.Lock()
	procs := g.sorted(false)
	d.mu.Unlock()
	return d.stopProcs(ctx, procs, wait), nil
}

func (d *Daemon) stopProcs(ctx context.Context, procs []*process, wait bool) []any {
	d.stopDependents(ctx, procs)
	d.mu.Lock()
	procs = d.selectLocked(procs, func(p *process) bool { return p.state.running() || p.waitingDeps })
	withDeps := d.hasDependenciesLocked()
	d.mu.Unlock()
	if withDeps {
		// Among procs too, dependents stop before what they depend on.
		d.stopInWaves(ctx, procs)
		out := make([]any, 0, len(procs))
		for _, p := range procs {
			out = append(out, result(p, nil))
		}
		return out
	}
	var await func(p *process) error
	if wait {
		await = func(p *process) error { return d.awaitStop(ctx, p) }
	}
	return forEach(procs, func(p *process) (bool, error) { return d.beginStop(p, p.namespec()) }, await)
}

func signalArg(args params, i int) (string, error) {
	if i >= len(args) {
		return "", fault(FaultIncorrectParameters)
	}
	switch v := args[i].(type) {
	case string:
		return v, nil
	case int:
		return fmt.Sprint(v), nil
	}
	return "", fault(FaultIncorrectParameters)
}

func (d *Daemon) signalOne(p *process, name, sigName string) error {
	sig, err := signalFault(sigName)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !p.state.signallable() {
		return fault(FaultNotRunning, name)
	}
	if msg := p.signal(sig); msg != "" {
		return fault(FaultFailed, msg)
	}
	return nil
}

func (d *Daemon) signalProcs(procs []*process, sigName string) (any, error) {
	d.mu.Lock()
	procs = d.selectLocked(procs, func(p *process) bool { return p.state.signallable() })
	d.mu.Unlock()
	out := make([]any, 0, len(procs))
	for _, p := range procs {
		out = append(out, result(p, d.signalOne(p, p.namespec(), sigName)))
	}
	return out, nil
}

func (d *Daemon) logOf(args params, channel string) (*process, string, error) {
	name, err := args.str(0)
	if err != nil {
		return nil, "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_, p, err := d.targetLocked(name)
	if err != nil {
		return nil, "", err
	}
	if p == nil {
		return nil, "", fault(FaultBadName, name)
	}
	f := p.stdout
	if channel == "stderr" {
		f = p.stderr
	}
	if f == nil {
		return p, "", nil
	}
	return p, f.Path(), nil
}

func (d *Daemon) readProcessLog(args params, channel string) (any, error) {
	_, path, err := d.logOf(args, channel)
	if err != nil {
		return nil, err
	}
	return d.readLog(path, args[1:])
}

// readLog serves readLog and readProcess*Log: args are offset and length.
func (d *Daemon) readLog(path string, args params) (any, error) {
	if !exists(path) {
		if path == "" {
			return nil, fault(FaultNoFile, "None")
		}
		return nil, fault(FaultNoFile, path)
	}
	offset, err := args.integer(0)
	if err != nil {
		return nil, err
	}
	length, err := args.integer(1)
	if err != nil {
		return nil, err
	}
	data, err := logfile.Read(path, int64(offset), int64(length))
	if err != nil {
		return nil, readLogFault(err)
	}
	return string(data), nil
}

func (d *Daemon) tailProcessLog(args params, channel string) (any, error) {
	_, path, err := d.logOf(args, channel)
	if err != nil {
		return nil, err
	}
	offset, err := args.integer(1)
	if err != nil {
		return nil, err
	}
	length, err := args.integer(2)
	if err != nil {
		return nil, err
	}
	if !exists(path) {
		return []any{"", 0, false}, nil
	}
	data, next, overflow, err := logfile.Tail(path, int64(offset), int64(length))
	if err != nil {
		return nil, fault(FaultFailed)
	}
	return []any{string(data), int(next), overflow}, nil
}

func (p *process) clearLogs() error {
	for _, f := range []*logfile.File{p.stdout, p.stderr} {
		if f != nil {
			if err := f.Clear(); err != nil {
				return err
			}
		}
	}
	return nil
}
