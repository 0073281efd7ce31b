#!/usr/bin/env python3
"""Write the golden XML-RPC bodies in this directory with Python's xmlrpc.client.

Usage: python3 gen.py [OUTDIR]   (default: the directory of this script)

encode_test.go builds the same values in Go and compares the encoder's output
with these files byte for byte; TestGoldenFilesArePython regenerates them into a
temporary directory to check they are still what Python writes.
"""
import datetime
import os
import sys
import xmlrpc.client as x

PROCESS = {
    "name": "gateone", "group": "gateone", "description": "pid 1234, uptime 0:01:40",
    "start": 1700000000, "stop": 0, "now": 1700000100, "state": 20,
    "statename": "RUNNING", "spawnerr": "", "exitstatus": 0,
    "logfile": "/var/log/gateone.log", "stdout_logfile": "/var/log/gateone.log",
    "stderr_logfile": "", "pid": 1234,
}

def resp(v):
    return x.dumps((v,), methodresponse=True, allow_none=True)

CASES = {
    "response_string": resp("hello <world> & \"quotes\" 'single' ]]>"),
    "response_unicode": resp("h\u00e9llo \u2014 \u4e16\u754c \U0001F389 \ufffd"),
    "response_int": resp(42),
    "response_negative_int": resp(-2147483648),
    "response_true": resp(True),
    "response_false": resp(False),
    "response_doubles": resp([0.1, 1e100, 1e-07, 123456789012.0, -2.5, 1e16, 1e15,
                              0.0001, 5e-324, 1.7976931348623157e308, 0.0, -0.0, 100.0]),
    "response_nested": resp([1, "two", [3, [4.5, False]], [], {}, {"a": {"b": [None]}}]),
    "response_process_info": resp(PROCESS),
    "response_process_infos": resp([dict(PROCESS, name="p%d" % i, pid=100 + i) for i in range(3)]),
    "response_base64": resp(x.Binary(b"\x00\x01binary\xff" * 10)),
    "response_empty_base64": resp(x.Binary(b"")),
    "response_datetime": resp(datetime.datetime(2024, 2, 29, 23, 59, 58)),
    "response_nil": resp(None),
    "response_empty_string": resp(""),
    "fault": x.dumps(x.Fault(10, "BAD_NAME: no <such> & process"), methodresponse=True),
    "call_no_params": x.dumps((), "supervisor.getState"),
    "call_params": x.dumps(("gateone", True), "supervisor.stopProcess"),
    "call_nested": x.dumps(([1, "a"], {"k": {"x": [None]}}), "keeper.test", allow_none=True),
}

def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for name, body in CASES.items():
        with open(os.path.join(out, name + ".xml"), "w", encoding="utf-8", newline="") as f:
            f.write(body)

if __name__ == "__main__":
    main()
