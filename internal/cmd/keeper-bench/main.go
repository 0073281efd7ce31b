// Command keeper-bench measures keeper against the programs it replaces:
// its session master against Debian's dtach on the same workloads,
// interleaved, through dtach's wire protocol (detach), and its daemon
// against Debian's supervisord on the same programs, side by side
// (supervise).
//
// Usage:
//
//	keeper-bench detach [-keeper bin/keeper] [-dtach /usr/bin/dtach] [-rounds 5] [-mb 64] [-sessions 100]
//	                    [-trips 2000] [-warmup 200] [-keeper-env VAR=VALUE,...] [-strace]
//	keeper-bench detach -record [-keeper bin/keeper] [-rounds 5] [-mb 64]
//	keeper-bench supervise [-keeper bin/keeper] [-supervisord /usr/bin/supervisord] [-supervisorctl /usr/bin/supervisorctl]
//	                       [-programs 50] [-status 30] [-calls 200] [-respawns 12] [-starts 5] [-idle 2s] [-strace]
//	keeper-bench sessions [-keeper bin/keeper] [-dtach /usr/bin/dtach] [-programs 4] [-sessions 200] [-runs 30]
//	                      [-calls 100] [-idle 10s] [-variants keeper,mixed] [-strace]
//	keeper-bench reexec [-keeper bin/keeper] [-programs 50] [-sessions 200] [-n 30]
//	keeper-bench screen [-keeper bin/keeper] [-rounds 5] [-lines 2000] [-cols 200] [-rows 50]
//	keeper-bench flood -bytes N    (program run on a session's pty)
//	keeper-bench lines -n N -cols C (program run on a session's pty)
//	keeper-bench echo              (program run on a session's pty)
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

const usage = `usage: keeper-bench detach [flags]   compare keeper dtach with dtach
       keeper-bench supervise [flags] compare keeper daemon with supervisord
       keeper-bench remote [flags]    [inet_http_server] and event listeners, keeper vs supervisord
       keeper-bench usage [flags]     the cost of /metrics and keeper.getProcessUsage with 50 programs and 200 sessions
       keeper-bench deps [flags]      a dependency tree started cold (ready=tcp) vs supervisord's priorities; health check CPU
       keeper-bench listen -port N    wait, then listen on a port (the programs of bench deps)
       keeper-bench reexec [flags]    keeper reexec with 50 programs and 200 sessions: time to answer again, lines lost
       keeper-bench sessions [flags]  time keeper sessions, kill-sessions, idle CPU and RSS with 200 sessions
       keeper-bench screen [flags]    memory of keeper's screen emulator (make bench-screen)
       keeper-bench flood [-bytes N]  raw tty; wait for one byte, write N bytes, then idle
       keeper-bench lines [-n N] [-cols C]  raw tty; wait for one byte, write N coloured lines, then idle
       keeper-bench echo              raw tty; write back every byte read
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "detach":
		err = runDetach(os.Args[2:], os.Stdout)
	case "supervise":
		err = runSupervise(os.Args[2:], os.Stdout)
	case "screen":
		err = runScreen(os.Args[2:], os.Stdout)
	case "remote":
		err = runRemote(os.Args[2:], os.Stdout)
	case "deps":
		err = runDeps(os.Args[2:], os.Stdout)
	case "usage":
		err = runUsage(os.Args[2:], os.Stdout)
	case "listen":
		err = runListen(os.Args[2:])
	case "lines":
		err = runLines(os.Args[2:])
	case "sessions":
		err = runSessions(os.Args[2:], os.Stdout)
	case "reexec":
		err = runReexec(os.Args[2:], os.Stdout)
	case "flood":
		err = runFlood(os.Args[2:])
	case "echo":
		err = runEcho(os.Args[2:])
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "keeper-bench: unknown subcommand %q\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		return // the flag set printed its usage
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "keeper-bench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
