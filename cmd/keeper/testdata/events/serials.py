"""An event listener written with supervisor.childutils for the reexec
tests: for every event it appends "SERIAL POOLSERIAL" (the header's) to the
file named by its first argument and the event's data (what follows the
payload's first line) to the one named by its second, then answers OK
after a pause of its third argument's seconds (so that a reexec finds it
BUSY).
"""
import sys
import time

from supervisor import childutils


def main():
    serials = open(sys.argv[1], "a")
    data = open(sys.argv[2], "a")
    pause = float(sys.argv[3])
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        serials.write("%s %s\n" % (headers["serial"], headers["poolserial"]))
        serials.flush()
        data.write(payload.split("\n", 1)[1])
        data.flush()
        time.sleep(pause)
        childutils.listener.ok(sys.stdout)


main()
