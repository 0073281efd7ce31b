"""A listener in the manner of superlance's memmon: at each TICK_5 it asks
its supervisor for every process over the XML-RPC client
childutils.getRPCInterface(os.environ) gives it, and restarts the program
named by its second argument once (stopProcess, then startProcess),
appending to the file named by its first argument what it saw and did.
"""
import os
import sys

from supervisor import childutils


def main():
    path, name = sys.argv[1], sys.argv[2]
    rpc = childutils.getRPCInterface(os.environ)
    restarted = False
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        if headers["eventname"] == "TICK_5" and not restarted:
            infos = {i["name"]: i for i in rpc.supervisor.getAllProcessInfo()}
            before = infos[name]
            if before["statename"] == "RUNNING":
                rpc.supervisor.stopProcess(name)
                rpc.supervisor.startProcess(name)
                after = rpc.supervisor.getProcessInfo(name)
                restarted = True
                with open(path, "a") as f:
                    f.write("%s %s pid %s -> %s %s\n" % (
                        headers["eventname"], before["statename"],
                        "changed" if after["pid"] != before["pid"] else "same",
                        after["statename"], payload.split(":")[0]))
        childutils.listener.ok(sys.stdout)


main()
