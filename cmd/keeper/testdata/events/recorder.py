"""An event listener written as supervisord's manual shows, with
supervisor.childutils: it appends one line per event to the file named by
its first argument, then answers OK; or FAIL, the first time it sees the
event type named by its second argument; or it exits 1 without answering,
the first time (across restarts) it sees the one named by its third.

A line is the event's name, its payload's fields sorted by key, the data
after them if any, and the header's keys. Values that differ from run to
run (pids, serials, times, lengths) are written as *.

Before its first event it writes one line about what its supervisor gave
it: the SUPERVISOR_* environment, and the daemon's state asked over
childutils.getRPCInterface(os.environ). With RECORDER_WAIT_FOR=PATH in its
environment it then waits for PATH to exist before it says READY.
"""
import os
import sys
import time

from supervisor import childutils

VARYING = {"pid", "serial", "poolserial", "when", "len"}


def describe(fields):
    return " ".join(
        "%s=%s" % (k, "*" if k in VARYING else v) for k, v in sorted(fields.items())
    )


def environment():
    env = " ".join(
        "%s=%s" % (k, os.environ.get(k))
        for k in ("SUPERVISOR_ENABLED", "SUPERVISOR_PROCESS_NAME", "SUPERVISOR_GROUP_NAME")
    )
    url = os.environ.get("SUPERVISOR_SERVER_URL", "")
    rpc = childutils.getRPCInterface(os.environ)
    state = rpc.supervisor.getState()["statename"]
    return "ENV %s SUPERVISOR_SERVER_URL=%s getState=%s" % (env, url.split("/")[0], state)


def main():
    path = sys.argv[1]
    fail_once = sys.argv[2] if len(sys.argv) > 2 else None
    crash_once = sys.argv[3] if len(sys.argv) > 3 else None
    crashed = path + ".crashed"
    with open(path, "a") as f:
        f.write(environment() + "\n")
    wait_for = os.environ.get("RECORDER_WAIT_FOR")
    while wait_for and not os.path.exists(wait_for):
        time.sleep(0.05)
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        # eventdata wants a first line ended by a newline; some payloads
        # have no newline at all.
        fields, data = childutils.eventdata(payload + "\n")
        data = data[:-1]
        name = headers["eventname"]
        with open(path, "a") as f:
            if data:
                fields["data"] = repr(data)
            f.write("%s %s | %s\n" % (name, describe(fields), " ".join(sorted(headers))))
        if name == crash_once and not os.path.exists(crashed):
            open(crashed, "w").close()
            sys.exit(1)
        if name == fail_once:
            fail_once = None
            childutils.listener.fail(sys.stdout)
        else:
            childutils.listener.ok(sys.stdout)


main()
