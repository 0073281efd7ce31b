#!/usr/bin/env python3
"""A stand-in for Gate One in keeper's tests.

Like gateone.py it is a foreground server that never daemonizes. For each
user it keeps a terminal (a pty it holds the master of) in which it runs
dtach, exactly with Gate One's ssh plugin command lines:

    dtach -c SOCK -E -z -r none CMD ARGS...   (a new session)
    dtach -a SOCK -E -z -r none               (resuming one that exists)

CMD starts a grandchild the way ssh_connect.py starts ssh. `dtach` is
whatever comes first in PATH: Debian's dtach, or keeper through a symlink.

With PORT, it also runs as Gate One does behind its listening socket: it
listens on 127.0.0.1:PORT (without SO_REUSEADDR, so a port still held by
an old instance's workers fails the start), forks two workers that inherit
the socket (the second ignores SIGTERM) and one helper that daemonizes
itself (double fork, setsid, no terminal). On SIGTERM only the server
exits: the workers and the helper stay unless their supervisor stops them.
With GATEONE_CLEAN_HELPER=1 in the environment the helper also re-executes
itself with an empty environment, dropping every mark a supervisor put
there (only a cgroup still tells it belongs to the server).

Usage: gateone.py SESSION_DIR USERS MARKER [PORT]
"""
import os
import pty
import select
import signal
import socket
import sys
import time

if sys.argv[1:] == ["--helper"]:
    while True:
        time.sleep(3600)

session_dir, users, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3]
port = int(sys.argv[4]) if len(sys.argv) > 4 else 0
terminals = {}  # pty master fd -> (user, pid of the dtach client)

def open_terminal(user):
    sock = os.path.join(session_dir, "user%d" % user, "dtach_1")
    os.makedirs(os.path.dirname(sock), exist_ok=True)
    if os.path.exists(sock):
        argv = ["dtach", "-a", sock, "-E", "-z", "-r", "none"]
    else:
        # sh keeps running as the program on the pty; its child stands
        # for the ssh that ssh_connect.py starts.
        argv = ["dtach", "-c", sock, "-E", "-z", "-r", "none",
                "sh", "-c", "sleep %s; :" % marker]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    # os.forkpty's master descriptor is inheritable: without this the next
    # user's dtach would hold this terminal open after the server exits.
    os.set_inheritable(fd, False)
    terminals[fd] = (user, pid)
    print("user%d: %s (client pid %d)" % (user, " ".join(argv[:2]), pid), flush=True)

def stop(signum, frame):
    # Gate One exits on SIGTERM; the dtach clients lose their terminals
    # (SIGHUP) and detach, the sessions stay.
    sys.exit(0)

def worker(ignore_term):
    if ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        time.sleep(3600)

def daemonize():
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            os.chdir("/")
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            if os.environ.get("GATEONE_CLEAN_HELPER") == "1":
                os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), "--helper"], {})
            while True:
                time.sleep(3600)
        os._exit(0)
    os.waitpid(pid, 0)

def listen():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as e:
        print("Could not listen on 127.0.0.1:%d: %s" % (port, e.strerror), flush=True)
        sys.exit(1)
    sock.listen(16)
    for ignore_term in (False, True):
        pid = os.fork()
        if pid == 0:
            worker(ignore_term)
        print("worker pid %d" % pid, flush=True)
    daemonize()
    return sock

signal.signal(signal.SIGTERM, stop)
if port:
    server = listen()
for user in range(1, users + 1):
    open_terminal(user)
print("ready", flush=True)
while terminals:
    ready, _, _ = select.select(list(terminals), [], [], 1.0)
    for fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            user, pid = terminals.pop(fd)
            os.close(fd)
            os.waitpid(pid, 0)
            print("user%d: client exited" % user, flush=True)
# Every client is gone: stay up, as a server does.
while True:
    time.sleep(3600)
