#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Load tests for smtpscope: the idle sweep, eviction and --memcap under many sessions."""

# usage: tests/load.py [SMTPSCOPE]   (default build/smtpscope-san, the ASan/UBSan
# build). Prints one line per case, "PASS load/<name>", "FAIL load/<name>: <why>"
# or "SKIP load/<name>: <why>", and exits 1 if any case failed. Captures are
# written by tools/craft/craft.py into a temporary directory, removed at exit.

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True   # leave no __pycache__ in the tree
sys.path.insert(0, str(ROOT / "tools" / "craft"))
from craft import Conn, Pcap, SYN  # noqa: E402

SANITIZER_RE = re.compile(r"(Address|Leak|UndefinedBehavior|Memory|Thread)Sanitizer|runtime error:")
SERVER = ("198.51.100.25", 25)
BIN = None
TMP = None
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", TZ="UTC",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")


class Fail(Exception):
    pass


TESTS = []


def case(name):
    def register(fn):
        TESTS.append((name, fn))
        return fn
    return register


def check(cond, why):
    if not cond:
        raise Fail(why)


def run(pcap, *opts, timeout=60):
    """Run the binary on a capture; events (must succeed silently) and seconds."""
    t0 = time.monotonic()
    try:
        p = subprocess.run([BIN, "-r", pcap] + [str(o) for o in opts], cwd=ROOT, env=ENV,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail("timed out after %d s" % timeout)
    secs = time.monotonic() - t0
    err = p.stderr.decode("utf-8", "replace")
    m = SANITIZER_RE.search(err)
    check(not m, "sanitizer report: %s" % err[:300])
    check(p.returncode == 0 and err == "", "exit %d, stderr %r" % (p.returncode, err[:300]))
    return [json.loads(line) for line in p.stdout.decode().splitlines()], secs


def of_type(events, t):
    return [e for e in events if e["event_type"] == t]


def stats_of(events):
    check(events and events[-1]["event_type"] == "stats", "the last event is not stats")
    return events[-1]["stats"]


def write(pcap, name):
    path = os.path.join(TMP, name)
    pcap.write(path)
    return path


def host(i):
    return "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)


def opened(pcap, client, **kw):
    """A session that said banner, EHLO and its reply."""
    c = Conn(pcap, client=client, server=SERVER, **kw)
    c.handshake()
    c.server(b"220 mx.example.test ESMTP\r\n")
    c.client(b"EHLO client.test\r\n")
    c.server(b"250-mx.example.test\r\n250 PIPELINING\r\n")
    return c


def syn(pcap, client):
    """A SYN from client that nothing answers (a flood)."""
    Conn(pcap, client=client, server=SERVER).emit("client", SYN)


# ---- the idle sweep ----

@case("sweep-visits-due-only")
def _():
    """20000 sessions stay open (idle timeout a year) while packets of
    another port go by once a second for 400000 s of packet time: the sweep
    runs 400000 times. Visiting every open session each time (8 billion
    visits) took 30 s and more; visiting only the sessions due takes as
    long as reading the file."""
    pcap = Pcap()
    for i in range(20000):
        opened(pcap, (host(i + 1), 40000 + i % 20000))
    # a DNS query's worth of UDP: not SMTP, but it moves the clock
    udp = bytes.fromhex("4500001c00010000401100000a0000010a000002"
                        "d43100350008" "0000")
    frame = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00" + udp
    for _ in range(400000):
        pcap.now += 1000000
        pcap.records.append((pcap.now, frame))
    path = write(pcap, "sweep.pcap")
    events, secs = run(path, "--idle-timeout", 365 * 86400, timeout=15)
    st = stats_of(events)
    check(st["sessions"] == 20000 and st["idle_closed"] == 0, "stats %r" % st)
    closes = {e["smtp"]["close"] for e in of_type(events, "smtp_session")}
    check(closes == {"eof"}, "closes %r" % closes)


def main():
    global BIN, TMP
    arg = sys.argv[1] if len(sys.argv) > 1 else "build/smtpscope-san"
    path = Path(arg)
    if not path.is_absolute():
        path = Path.cwd() / path if (Path.cwd() / path).exists() else ROOT / path
    BIN = str(path)
    if not os.access(BIN, os.X_OK):
        print("FAIL load/binary: %s is not an executable file" % BIN)
        return 1
    failed = 0
    TMP = tempfile.mkdtemp(prefix="smtpscope-load-")
    try:
        for name, fn in TESTS:
            try:
                fn()
            except Fail as e:
                failed += 1
                print("FAIL load/%s: %s" % (name, " ".join(str(e).split())), flush=True)
            except Exception as e:  # a bug in the test itself still counts
                failed += 1
                print("FAIL load/%s: %s: %s" % (name, type(e).__name__, " ".join(str(e).split())),
                      flush=True)
            else:
                print("PASS load/%s" % name, flush=True)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
