"""An event listener written as supervisord's manual shows, with
supervisor.childutils: it appends one line per event to the file named by
its first argument, then answers OK (or FAIL, the first time it sees the
event type named by its second argument, if any).

A line is the event's name, its payload's fields sorted by key, and the
header's keys. Values that differ from run to run (pids, serials, times,
lengths) are written as *.
"""
import sys

from supervisor import childutils

VARYING = {"pid", "serial", "poolserial", "when", "len"}


def describe(fields):
    return " ".join(
        "%s=%s" % (k, "*" if k in VARYING else v) for k, v in sorted(fields.items())
    )


def main():
    path = sys.argv[1]
    fail_once = sys.argv[2] if len(sys.argv) > 2 else None
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        fields, data = childutils.eventdata(payload + "\n")
        name = headers["eventname"]
        with open(path, "a") as f:
            f.write("%s %s | %s\n" % (name, describe(fields), " ".join(sorted(headers))))
        if name == fail_once:
            fail_once = None
            childutils.listener.fail(sys.stdout)
        else:
            childutils.listener.ok(sys.stdout)


main()
