// Command keeper supervises programs from a supervisord-dialect config and
// tracks the detached terminal sessions they leave behind.
//
// This comment is keeper's design in short: what runs, how it is driven,
// what stop, kill-sessions and shutdown do, and which package may import
// which.
//
// # Processes
//
//	keeper daemon              supervisor; PR_SET_CHILD_SUBREAPER; owns every wait4
//	 ├── program               own process group (setpgid); stdout/stderr into keeper's log pipes
//	 │    └── dtach -c SOCK    the attach client, in the program's group
//	 └── session master        setsid: own session and group; holds the pty master and SOCK; stdio /dev/null
//	      └── session program  own session on the pty (setsid + setctty), e.g. ssh
//
// A program is started with setpgid, so stopasgroup and killasgroup signal
// exactly its group. A session master left the program's session with
// setsid, so signals to the program's group never reach it. The daemon is a
// child subreaper: a master whose parents die is re-parented to the daemon,
// which reaps it and keeps it listed. One goroutine owns wait4(-1) and hands
// each exit to whoever subscribed to that pid before it started; nothing
// else reaps.
//
// keeper's own session master is this binary re-executed with a hidden
// subcommand, never a fork of a Go process. Masters of the real dtach are
// tracked too. A session is known by its master's pid and start time and
// its socket, and belongs to the program it descends from; its record lives
// under the daemon's state directory (beside the pidfile: keeper.pid gives
// keeper.state), so a daemon restarted, or killed and started again, finds
// its sessions again and checks each is still the same process.
//
// # The control socket
//
// One unix socket, one protocol: supervisord's XML-RPC over HTTP (POST
// /RPC2, GET /logtail/NAME and /mainlogtail to follow logs). The real
// supervisorctl drives keeper unchanged, and keeper's own control commands
// are one more client. keeper's own methods (sessions, kill-sessions, stop
// and shutdown that keep or kill sessions) live under a "keeper." namespace
// beside "supervisor." and "system.". The daemon checks each peer's
// credentials (SO_PEERCRED): only root, the daemon's own user and members
// of the socket's group may control it. keeper attach never goes through
// the daemon: it talks to the session's own socket.
//
// # Stop, kill, shutdown
//
//	command                              program                                   its sessions
//	keeper stop NAME [--keep-sessions]   stopsignal to its main process (its      left running, still listed
//	                                     group with stopasgroup), SIGKILL after
//	                                     stopwaitsecs; then the rest of its tree
//	                                     the same way
//	keeper stop NAME --kill-sessions     the same                                  reaped after the program
//	keeper kill-sessions [NAME...]       untouched                                 reaped: SIGHUP to the pty's foreground
//	                                                                               group, SIGTERM, a grace, SIGKILL to
//	                                                                               everything in the session
//	keeper shutdown [--keep-sessions]    all stopped, in reverse priority          left running; the next daemon
//	                                                                               adopts them again
//	keeper shutdown --kill-sessions      all stopped                               all reaped; nothing is left behind
//
// A program is its whole process tree minus its sessions: its main
// process, its process group and every descendant that left the group,
// tracked by a cgroup v2 per program where keeper can create cgroups, else
// by the mark its environment carries; leftovers=keep signals the main
// process alone, as supervisord does. A program's sessions= setting can
// make kill-sessions its default. Reaping
// a session leaves no process of it and no zombie: not the master,
// not the program on its pty, nor anything that program started.
//
// # Packages
//
//	cmd/keeper   flags and dispatch; one file per subcommand
//	supervise    config, program state machine, reaper, logs, control socket
//	detach       session master, attach client, dtach's wire protocol, sockets
//	proctree     snapshots of the process table, read from /proc without forking
//	internal     helpers for the tests (internal/peer finds the real peers)
//
// Imports point one way: cmd/keeper → supervise → {detach, proctree}.
// detach and proctree import no other keeper package, so keeper dtach and
// keeper attach work with no daemon running. TestImportDirection
// (imports_test.go) enforces this.
package main
