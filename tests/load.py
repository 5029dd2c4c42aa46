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
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True   # leave no __pycache__ in the tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SANITIZER_RE, Fail, Suite, check  # noqa: E402
sys.path.insert(0, str(ROOT / "tools" / "craft"))
from craft import Conn, Pcap, SYN  # noqa: E402

SERVER = ("198.51.100.25", 25)
BIN = None
TMP = None
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", TZ="UTC",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")


SUITE = Suite("load")
case = SUITE.case


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


# ---- eviction: --max-sessions ----

BODY = b"".join(b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <flood@client.test>\r\n"
                b"Subject: flood test\r\n\r\n" if i == 0 else
                b"line %05d of a message that is in the middle of DATA\r\n" % i
                for i in range(400))


def body_sha():
    return hashlib.sha256(BODY).hexdigest(), len(BODY)


@case("syn-flood-mid-data")
def _():
    """5000 SYNs from distinct sources, --max-sessions 1000, while a session
    is in the middle of DATA: the half-open connections are evicted (oldest
    first), never the live session. Before, libnids evicted the oldest
    stream at 3/4 of its table (the live one), reported it as timeout, and
    the rest of the message came back as a mid-stream session with a false
    command_out_of_sequence alert."""
    pcap = Pcap()
    live = opened(pcap, ("192.0.2.7", 40001))
    live.client(b"MAIL FROM:<a@client.test>\r\n")
    live.server(b"250 2.1.0 Ok\r\n")
    live.client(b"RCPT TO:<b@example.test>\r\n")
    live.server(b"250 2.1.5 Ok\r\n")
    live.client(b"DATA\r\n")
    live.server(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    half = len(BODY) // 2
    live.client(BODY[:half])
    for i in range(5000):
        syn(pcap, (host(i + 1), 1024 + i % 60000))
    live.client(BODY[half:] + b".\r\n")
    live.server(b"250 2.0.0 Ok: queued as 4F00D\r\n")
    live.client(b"QUIT\r\n")
    live.server(b"221 2.0.0 Bye\r\n")
    live.close()
    events, _ = run(write(pcap, "flood.pcap"), "--max-sessions", 1000)
    sess = of_type(events, "smtp_session")
    check(len(sess) == 1 and sess[0]["smtp"]["close"] == "quit" and
          not sess[0]["smtp"].get("midstream"),
          "sessions %r" % [(e["smtp"]["close"], e["smtp"].get("midstream")) for e in sess])
    txn = of_type(events, "smtp_transaction")
    sha, size = body_sha()
    check(len(txn) == 1 and txn[0]["smtp"]["status"] == "queued" and
          txn[0]["smtp"]["size"] == size and txn[0]["smtp"]["sha256"] == sha,
          "transactions %r" % [(t["smtp"]["status"], t["smtp"].get("size")) for t in txn])
    kinds = [a["smtp"]["alert"]["kind"] for a in of_type(events, "smtp_alert")]
    # the server offers no STARTTLS: said once (starttls_not_offered)
    kinds = [k for k in kinds if k != "starttls_not_offered"]
    check(kinds == ["cleartext_mail"] or kinds == [], "alerts %r" % kinds)
    st = stats_of(events)
    # 1000 places: the live session and 999 half-open; each later SYN
    # evicts the oldest half-open one
    check(st["evicted_half_open"] == 4001 and st["evicted_sessions"] == 0 and
          st["sessions"] == 1 and st["libnids_tcp_warnings"] == 0,
          "stats %r" % {k: st.get(k) for k in ("evicted_half_open", "evicted_sessions",
                                               "sessions", "libnids_tcp_warnings")})


@case("evict-idle-longest")
def _():
    """--max-sessions 3, three established sessions: a fourth connection
    evicts the one idle longest (not the oldest), which ends as evicted;
    its late packets start no mid-stream session."""
    pcap = Pcap()
    a = opened(pcap, ("192.0.2.1", 40001))
    b = opened(pcap, ("192.0.2.2", 40002))
    c = opened(pcap, ("192.0.2.3", 40003))
    for conn in (b, a, c):           # b is now the one idle longest
        pcap.tick(1000000)
        conn.client(b"NOOP\r\n")
        conn.server(b"250 2.0.0 Ok\r\n")
    d = opened(pcap, ("192.0.2.4", 40004))
    b.client(b"NOOP\r\n")            # too late: b was evicted
    b.server(b"250 2.0.0 Ok\r\n")
    for conn in (a, c, d):
        conn.client(b"QUIT\r\n")
        conn.server(b"221 2.0.0 Bye\r\n")
        conn.close()
    events, _ = run(write(pcap, "evict.pcap"), "--max-sessions", 3)
    got = [(e["src_ip"], e["smtp"]["close"], bool(e["smtp"].get("midstream")))
           for e in of_type(events, "smtp_session")]
    check(got == [("192.0.2.2", "evicted", False), ("192.0.2.1", "quit", False),
                  ("192.0.2.3", "quit", False), ("192.0.2.4", "quit", False)],
          "sessions %r" % got)
    st = stats_of(events)
    check(st["evicted_sessions"] == 1 and st["evicted_half_open"] == 0 and
          st["sessions"] == 4 and st["midstream_sessions"] == 0, "stats %r" % st)


# ---- --memcap ----

@case("memcap-shed")
def _():
    """--memcap 40K: each session is estimated at 4096 bytes plus libnids'
    buffers (4096 a direction once it has data: 12288 here) plus the
    decoder's (its pending ring of 4 entries, 128; the latencies of its
    replies, 4 kept in 16 bytes), a half-open
    connection at 512. Three half-open connections, then six sessions one
    after the other: the half-open ones are shed first (oldest first), then
    the sessions idle longest (1, 2, 3), never the one that just sent data.
    One memcap_reached alert, counters exact."""
    pcap = Pcap()
    for i in range(3):
        syn(pcap, (host(i + 1), 2000 + i))
    conns = []
    for i in range(6):
        conns.append(opened(pcap, ("192.0.2.%d" % (i + 1), 40001 + i)))
    for conn in conns:
        conn.client(b"QUIT\r\n")
        conn.server(b"221 2.0.0 Bye\r\n")
        conn.close()
    events, _ = run(write(pcap, "memcap.pcap"), "--memcap", "40K")
    got = [(e["smtp"]["session"], e["smtp"]["close"]) for e in of_type(events, "smtp_session")]
    check(got == [(1, "evicted"), (2, "evicted"), (3, "evicted"), (4, "quit"), (5, "quit"),
                  (6, "quit")], "sessions %r" % got)
    alerts = [e for e in of_type(events, "smtp_alert")
              if e["smtp"]["alert"]["kind"] == "memcap_reached"]
    check(len(alerts) == 1 and alerts[0]["smtp"]["alert"]["severity"] == "error",
          "%d memcap_reached alerts" % len(alerts))
    st = stats_of(events)
    want = {"memcap_shed_half_open": 3, "memcap_shed_sessions": 3,
            "memcap_shed_bytes": 3 * 512 + 3 * (12288 + 128 + 16), "evicted_sessions": 0,
            "evicted_half_open": 0}
    check(all(st[k] == v for k, v in want.items()), "stats %r" % {k: st[k] for k in want})
    # no cap: nothing shed
    events, _ = run(write(pcap, "memcap.pcap"), "--memcap", "0")
    closes = {e["smtp"]["close"] for e in of_type(events, "smtp_session")}
    check(closes == {"quit"} and stats_of(events)["memcap_shed_sessions"] == 0,
          "--memcap 0: %r" % closes)


@case("memcap-pending-queue")
def _():
    """The decoder's memory counts toward --memcap: two idle sessions
    (about 12.5 KB each in the estimate), then a third that pipelines 2000
    NOOPs with 900-byte arguments nobody answers yet (about 1.8 MB of
    pending queue). Under --memcap 1M only the queue can push the total
    over: the idle sessions are shed, oldest first, and the one growing
    its queue (it just sent data) never is; its 2000 commands are then
    answered and it ends with its QUIT. A cap above the three sessions
    and below the queue would shed nothing if the queue were not counted;
    with a cap above both, nothing is shed."""
    pcap = Pcap()
    for i in range(2):
        opened(pcap, ("192.0.2.%d" % (i + 1), 41001 + i))
    busy = opened(pcap, ("192.0.2.9", 41009))
    busy.client((b"NOOP " + b"x" * 900 + b"\r\n") * 2000, seg=60000, acks=False)
    busy.server(b"250 2.0.0 Ok\r\n" * 2000)
    busy.client(b"QUIT\r\n")
    busy.server(b"221 2.0.0 Bye\r\n")
    busy.close()
    path = write(pcap, "memcap-pending.pcap")
    events, _ = run(path, "--memcap", "1M")
    got = [(e["smtp"]["session"], e["smtp"]["close"]) for e in of_type(events, "smtp_session")]
    check(got[:2] == [(1, "evicted"), (2, "evicted")] and (3, "quit") in got,
          "sessions %r" % got)
    st = stats_of(events)
    check(st["memcap_shed_sessions"] == 2 and st["memcap_shed_half_open"] == 0,
          "stats %r" % {k: v for k, v in st.items() if k.startswith("memcap")})
    events, _ = run(path, "--memcap", "4M")
    got = [(e["smtp"]["session"], e["smtp"]["close"]) for e in of_type(events, "smtp_session")]
    check(sorted(got) == [(1, "eof"), (2, "eof"), (3, "quit")] and
          stats_of(events)["memcap_shed_sessions"] == 0, "--memcap 4M: %r" % got)


def main():
    global BIN, TMP
    BIN, TMP = SUITE.start()
    return SUITE.run() if BIN else 1


if __name__ == "__main__":
    sys.exit(main())
