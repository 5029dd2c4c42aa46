#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""random-check.py - random crafted captures: every captured byte arrives, every lost one is a gap.

usage: tools/craft/random-check.py [-n N] [--seed S] [BINARY]
       (default BINARY: build/smtpscope-san, N: 100; run from the repository root)

Each capture is one SMTP connection with random ISNs, windows, window
scaling, TCP timestamps, IPv4 or IPv6, parts of the handshake missing, one
side only, missing ACKs, and segments swapped. Half of them also lose
random segments of the message body (never the last one). The session
event must then show exactly the captured payload bytes per direction,
and gaps totalling exactly the bytes lost. Prints PASS or FAIL per
capture and exits 1 on any failure. The same seed gives the same files.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from craft import Conn, Pcap  # noqa: E402

BANNER = b"220 mx.example.test ESMTP\r\n"
REPLIES = [b"250-mx.example.test\r\n250 8BITMIME\r\n", b"250 2.1.0 Ok\r\n",
           b"250 2.1.5 Ok\r\n", b"354 End data with <CR><LF>.<CR><LF>\r\n"]
COMMANDS = [b"EHLO client.test\r\n", b"MAIL FROM:<alice@client.test>\r\n",
            b"RCPT TO:<bob@example.test>\r\n", b"DATA\r\n"]
HANDSHAKES = [(True, True, True), (False, True, True), (True, False, True),
              (True, True, False), (False, False, True), (True, False, False),
              (False, False, False)]


def build(seed, lossy):
    """One random capture; returns (Pcap, expected bytes, expected gap bytes)."""
    r = random.Random(seed)
    v6 = r.random() < 0.3
    only = r.choice([None, None, "client", "server"])
    c = Conn(Pcap(),
             client=("2001:db8::7" if v6 else "192.0.2.7", 40000 + seed % 1000),
             server=("2001:db8::25" if v6 else "198.51.100.25", 25),
             isn=(r.getrandbits(32), r.getrandbits(32)),
             wscale=r.choice([None, (7, 7), (14, 2)]),
             window=(r.choice([4096, 65535]), r.choice([1024, 8192, 65535])),
             only=only, timestamps=r.random() < 0.3,
             acks_from=r.choice([("client", "server"), ("client",),
                                 ("server",), ()]))
    sent = {"client": 0, "server": 0}
    lost = 0

    def send(side, data, seg=1460, drop=()):
        n = (len(data) + seg - 1) // seg
        order = list(range(n))
        if n > 1 and r.random() < 0.5:
            i = r.randrange(n - 1)
            order[i], order[i + 1] = order[i + 1], order[i]
        sent[side] += len(data) - sum(len(data[i * seg:(i + 1) * seg])
                                      for i in drop)
        c.send(side, data, seg=seg, drop=drop, order=order,
               acks=r.random() < 0.8)

    c.handshake(*r.choice(HANDSHAKES))
    send("server", BANNER)
    for cmd, reply in zip(COMMANDS, REPLIES):
        send("client", cmd)
        send("server", reply)
    body = b"Subject: random %d\r\n\r\n" % seed + b"".join(
        b"line %05d of the body\r\n" % i
        for i in range(r.randint(20, 3000))) + b".\r\n"
    seg = r.choice([100, 536, 1460])
    n = (len(body) + seg - 1) // seg
    drop = {i for i in range(n - 1) if lossy and r.random() < 0.15}
    if only != "server":
        lost = sum(len(body[i * seg:(i + 1) * seg]) for i in drop)
    send("client", body, seg, drop)
    send("server", b"250 2.0.0 Ok: queued\r\n")
    send("client", b"QUIT\r\n")
    send("server", b"221 2.0.0 Bye\r\n")
    c.close(first=r.choice(["client", "server"]))
    if only == "client":
        sent["server"] = 0
    elif only == "server":
        sent["client"] = 0
    return c.pcap, sent, lost


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary", nargs="?", default="build/smtpscope-san")
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.n):
            seed = args.seed + k
            pcap, sent, lost = build(seed, lossy=k % 2 == 1)
            path = os.path.join(tmp, "r%d.pcap" % seed)
            pcap.write(path)
            run = subprocess.run([args.binary, "-r", path],
                                 capture_output=True, text=True)
            sessions = [json.loads(line)["smtp"]
                        for line in run.stdout.splitlines()
                        if '"smtp_session"' in line]
            problem = None
            if run.returncode or run.stderr:
                problem = "exit %d, stderr %r" % (run.returncode,
                                                  run.stderr[:200])
            elif len(sessions) != 1:
                problem = "%d sessions" % len(sessions)
            else:
                s = sessions[0]
                got = s["bytes"]
                gap = (s.get("gaps") or {}).get("bytes", 0)
                if got != sent or gap != lost:
                    problem = "bytes %s gaps %d, expected %s gaps %d" % (
                        got, gap, sent, lost)
            if problem:
                failed += 1
                print("FAIL random/%d: %s" % (seed, problem))
            else:
                print("PASS random/%d" % seed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
