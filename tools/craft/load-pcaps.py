#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""load-pcaps.py - captures of many sessions for the memory tests.

usage: tools/craft/load-pcaps.py KIND N [M] OUT
  open N        N sessions that say banner, EHLO and its reply, then nothing
  pipeline N M  N sessions that each pipeline M NOOPs no reply answers

Byte-exact and the same on every run (craft.py).
"""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from craft import Conn, Pcap  # noqa: E402

EHLO_REPLY = (b"250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
              b"250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n"
              b"250-8BITMIME\r\n250 SMTPUTF8\r\n")


def session(pcap, i):
    c = Conn(pcap, client=("10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255),
                           40000 + i % 20000), server=("192.0.2.25", 25))
    c.handshake()
    c.server(b"220 mx.example.test ESMTP\r\n")
    c.client(b"EHLO client%d.example.test\r\n" % i)
    c.server(EHLO_REPLY)
    return c


def main():
    kind, args, out = sys.argv[1], [int(a) for a in sys.argv[2:-1]], sys.argv[-1]
    pcap = Pcap()
    for i in range(args[0]):
        c = session(pcap, i)
        if kind == "pipeline":
            c.client(b"NOOP\r\n" * args[1], seg=65000, acks=False)
    pcap.write(out)


if __name__ == "__main__":
    main()
