#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Capture files with absurd values: time stamps, resolutions and offsets at their limits."""

# usage: tests/capture_hostile.py [SMTPSCOPE]   (default build/smtpscope-san,
# the ASan/UBSan build). Prints one line per case, "PASS capture/<name>",
# "FAIL capture/<name>: <why>" or "SKIP capture/<name>: <why>", and exits 1 if
# any case failed. Every capture holds one crafted SMTP session (a message,
# then QUIT); each case damages its time stamps and checks that the run
# succeeds without a sanitizer report, warns once with the exact line,
# prints only times of 1970-9999 that never go back, closes the session
# with "quit" (never a spurious "timeout") and writes the same events.

import datetime
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True   # leave no __pycache__ in tests/
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SANITIZER_RE, Fail, Suite, check  # noqa: E402
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tools" / "craft"))
import pcaptool as pt  # noqa: E402
import craft  # noqa: E402

TS_RE = re.compile(r"^(\d{4})-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0000$")
RUN_TIMEOUT = 30
INT64_MAX = 2 ** 63 - 1
INT64_MIN = -2 ** 63
YEAR_US = 365 * 86400 * 1000000
EPOCH = "1970-01-01T00:00:00.000000+0000"
# the events of the session: transaction, session, stats
EVENTS = ["smtp_transaction", "smtp_session", "stats"]
RANGE_WARN = ("smtpscope: %s: packet %d: time stamp out of range (not in 1970-9999); "
              "such packets take the time of the packet before")
BACK_WARN = ("smtpscope: %s: packet %d: time stamp %d s earlier than the packet before; "
             "such packets take the time of the packet before")

BIN = None   # absolute path of the binary under test
TMP = None   # temporary directory of this run
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")


SUITE = Suite("capture")
case = SUITE.case


# ---- the session and its captures ----

def session():
    """[(time in µs, Ethernet frame, side)] of one SMTP session, 1 ms apart."""
    p = craft.Pcap()
    c = craft.Conn(p)
    c.handshake()
    c.server(b"220 mx.example.test ESMTP\r\n")
    c.client(b"EHLO client.test\r\n")
    c.server(b"250-mx.example.test\r\n250 PIPELINING\r\n")
    c.client(b"MAIL FROM:<alice@example.test>\r\n")
    c.server(b"250 2.1.0 Ok\r\n")
    c.client(b"RCPT TO:<bob@example.org>\r\n")
    c.server(b"250 2.1.5 Ok\r\n")
    c.client(b"DATA\r\n")
    c.server(b"354 go ahead\r\n")
    c.client(b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <1@client.test>\r\n"
             b"Subject: hostile times\r\n\r\nhello\r\n.\r\n")
    c.server(b"250 2.0.0 Ok: queued as 4XyZ\r\n")
    c.client(b"QUIT\r\n")
    c.server(b"221 2.0.0 Bye\r\n")
    c.close()
    return [(ts, f, "client" if f[11] == 1 else "server") for ts, f in p.records]


def first_payload(recs, prefix):
    """Index of the first packet whose TCP payload starts with prefix."""
    for i, (_, f, _) in enumerate(recs):
        ip = f[14:]
        tcp = ip[(ip[0] & 15) * 4:]
        if tcp[(tcp[12] >> 4) * 4:].startswith(prefix):
            return i
    raise ValueError("no packet carries %r" % prefix)


def pcap_file(name, recs):
    """A classic pcap; times in µs, any value (the seconds are signed 32 bits)."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, pt.LINKTYPE_ETHERNET)]
    for ts, f, _ in recs:
        sec, us = divmod(ts, 1000000)
        out.append(struct.pack("<iIII", sec, us, len(f), len(f)) + f)
    return write(name, b"".join(out))


def idb(tsresol=None, tsoffset=None):
    """An Ethernet interface; tsresol the raw option byte, tsoffset seconds."""
    opts = b""
    if tsresol is not None:
        opts += struct.pack("<HHB3x", 9, 1, tsresol)
    if tsoffset is not None:
        opts += struct.pack("<HHq", 14, 8, tsoffset)
    if opts:
        opts += struct.pack("<HH", 0, 0)
    return pt._block(1, struct.pack("<HHI", pt.LINKTYPE_ETHERNET, 0, 262144) + opts, "<")


def pcapng_file(name, idbs, recs):
    """A pcapng file: recs is [(raw 64-bit time stamp, frame, interface)]."""
    out = [pt._block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1), "<")]
    out += idbs
    for t, f, iface in recs:
        t &= 2 ** 64 - 1
        body = struct.pack("<IIIII", iface, t >> 32, t & 0xFFFFFFFF, len(f), len(f))
        out.append(pt._block(6, body + pt._pad4(f), "<"))
    return write(name, b"".join(out))


def write(name, data):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


# ---- running it ----

def run(path, *opts):
    """Run on path; returns (events, stderr lines). Exit 0, no sanitizer report."""
    try:
        p = subprocess.run([BIN, "-r", path] + list(opts), cwd=ROOT, env=ENV,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Fail("timed out after %d s" % RUN_TIMEOUT)
    err = p.stderr.decode("utf-8", "replace")
    m = SANITIZER_RE.search(err)
    if m:
        line = next((x for x in err.splitlines() if SANITIZER_RE.search(x)), m.group(0))
        raise Fail("sanitizer report: %s" % line.strip()[:300])
    check(p.returncode == 0, "exit %s, stderr %r" % (p.returncode, err[:300]))
    events = []
    for n, line in enumerate(p.stdout.decode("utf-8").splitlines(), 1):
        try:
            events.append(json.loads(line))
        except ValueError as e:
            raise Fail("line %d is not JSON (%s): %r" % (n, e, line[:120]))
    return events, err.splitlines()


def expect(path, warning, lo=None, hi=None, *opts, max_duration=60 * 1000000, packets=None):
    """The run's checks; lo/hi bound the event times (their strings). Events."""
    events, err = run(path, *opts)
    # time that jumps makes a reply late by as much (slow_reply), and the
    # session's server offers no STARTTLS (starttls_not_offered): right to
    # say so, and not what these cases are about
    events = [e for e in events if not (
        e.get("event_type") == "smtp_alert" and
        e["smtp"]["alert"]["kind"] in ("slow_reply", "starttls_not_offered"))]
    want = [warning] if warning else []
    check(err == want, "stderr %r, want exactly %r" % (err, want))
    types = [e.get("event_type") for e in events]
    check(types == EVENTS, "events %s, want %s" % (types, EVENTS))
    stamps = [e["timestamp"] for e in events]
    for t in stamps:
        m = TS_RE.match(t)
        check(m and 1970 <= int(m.group(1)) <= 9999, "time stamp %r out of 1970-9999" % t)
    check(stamps == sorted(stamps), "time goes back in the events: %s" % stamps)
    if lo is not None:
        check(lo <= stamps[0] and stamps[-1] <= hi,
              "event times %s not within %s .. %s" % (stamps, lo, hi))
    s = events[1]["smtp"]
    check(s.get("close") == "quit", "session closed with %r, want \"quit\"" % s.get("close"))
    d = s.get("duration_us", -1)
    check(d >= 0 and (max_duration is None or d <= max_duration), "session duration_us %r" % d)
    t = events[0]["smtp"]
    check(t.get("status") == "queued" and t.get("queue_id") == "4XyZ",
          "transaction %r" % {k: t.get(k) for k in ("status", "queue_id")})
    st = events[-1]["stats"]
    want = packets or len(session())
    check(st.get("packets") == want, "stats packets %r, want %d" % (st.get("packets"), want))
    return events


def iso(us):
    """The event time format of a time in µs."""
    sec, frac = divmod(us, 1000000)
    d = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=sec)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%06d+0000" % frac


START = craft.START_US


def end_us():
    return START + (len(session()) - 1) * craft.STEP_US


# ---- pcapng: if_tsoffset at the limits of an int64 ----

def tsoffset_case(name, offset):
    @case("pcapng-" + name)
    def _():
        # client packets on a sane interface 0, the server's on interface 1
        # whose offset no time survives; all in nanoseconds
        recs = [(ts * 1000, f, 0 if side == "client" else 1) for ts, f, side in session()]
        path = pcapng_file(name + ".pcapng",
                           [idb(tsresol=9), idb(tsresol=9, tsoffset=offset)], recs)
        # packet 2, the SYN-ACK, is the server's first: it and all the
        # server's take the time of the client packet before them
        expect(path, RANGE_WARN % (path, 2), iso(START), iso(end_us()))


tsoffset_case("tsoffset-int64-max", INT64_MAX)
tsoffset_case("tsoffset-int64-max-minus-1e9", INT64_MAX - 10 ** 9)
tsoffset_case("tsoffset-int64-min", INT64_MIN)
tsoffset_case("tsoffset-1e13", 10 ** 13)
tsoffset_case("tsoffset-minus-1e13", -10 ** 13)


@case("pcapng-tsoffset-every-packet-int64-max")
def _():
    # no packet has a time: all take the epoch, nothing times out
    recs = [(ts * 1000, f, 0) for ts, f, _ in session()]
    path = pcapng_file("all-max.pcapng", [idb(tsresol=9, tsoffset=INT64_MAX)], recs)
    events = expect(path, RANGE_WARN % (path, 1))
    check(all(e["timestamp"] == EPOCH for e in events),
          "times %s, want the epoch" % [e["timestamp"] for e in events])


# ---- pcapng: time stamps of 64 bits at coarse and fine resolutions ----

@case("pcapng-seconds-2^64-1")
def _():
    # if_tsresol 10^0: a unit is a second; one data packet says 2^64 - 1 s
    recs = [(ts // 1000000, f, 0) for ts, f, _ in session()]
    i = first_payload(session(), b"MAIL")
    recs[i] = (2 ** 64 - 1,) + recs[i][1:]
    path = pcapng_file("sec-max.pcapng", [idb(tsresol=0)], recs)
    expect(path, RANGE_WARN % (path, i + 1), iso(START // 1000000 * 1000000),
           iso(end_us() // 1000000 * 1000000))


@case("pcapng-binary-seconds-year-36812")
def _():
    # if_tsresol 2^0: 2^40 s is past 9999 (a wrapping reader prints year 36812)
    recs = [(ts // 1000000, f, 0) for ts, f, _ in session()]
    i = first_payload(session(), b"DATA")
    recs[i] = (2 ** 40,) + recs[i][1:]
    path = pcapng_file("bin-sec.pcapng", [idb(tsresol=0x80)], recs)
    expect(path, RANGE_WARN % (path, i + 1))


@case("pcapng-finest-resolutions")
def _():
    # client: 2^-63 s units from an offset of START; server: 10^-19 s units
    # from an offset of -2^63 s, which no time survives
    recs = []
    base = START // 1000000
    for ts, f, side in session():
        frac_us = ts - base * 1000000          # below 1 s: fits 2^-63 units
        if side == "client":
            # rounded up, so that truncating back to µs gives frac_us
            recs.append((-(-(frac_us << 63) // 1000000), f, 0))
        else:
            recs.append((frac_us * 10 ** 13, f, 1))
    path = pcapng_file("finest.pcapng", [idb(tsresol=0x80 | 63, tsoffset=base),
                                         idb(tsresol=19, tsoffset=INT64_MIN)], recs)
    events = expect(path, RANGE_WARN % (path, 2), iso(START), iso(end_us()))
    # the client's times are exact to the µs (truncated): the last packet
    # is the client's final ACK
    check(events[-1]["timestamp"] == iso(end_us()),
          "stats time %s, want %s" % (events[-1]["timestamp"], iso(end_us())))


# ---- classic pcap: signed seconds, and time going backwards ----

@case("pcap-before-1970")
def _():
    # the seconds field read as signed: 1901-12-13 and on
    recs = [(ts - START - 2 ** 31 * 1000000, f, s) for ts, f, s in session()]
    path = pcap_file("before-1970.pcap", recs)
    expect(path, RANGE_WARN % (path, 1))


@case("pcap-back-decades-and-return")
def _():
    # one client packet 30 years early, then 2 s of silence (an idle sweep
    # runs): the session must not look idle for 30 years
    recs = session()
    i = first_payload(recs, b"MAIL")
    recs = [(ts + (2000000 if k > i else 0), f, s) for k, (ts, f, s) in enumerate(recs)]
    recs[i] = (recs[i][0] - 30 * YEAR_US,) + recs[i][1:]
    path = pcap_file("back-return.pcap", recs)
    expect(path, BACK_WARN % (path, i + 1, (recs[i - 1][0] - recs[i][0]) // 1000000),
           iso(START), iso(end_us() + 2000000))


@case("pcap-back-decades-for-good")
def _():
    # from the MAIL command on, the clock was set back 30 years
    recs = session()
    i = first_payload(recs, b"MAIL")
    recs = [(ts - (30 * YEAR_US if k >= i else 0), f, s) for k, (ts, f, s) in enumerate(recs)]
    path = pcap_file("back-for-good.pcap", recs)
    expect(path, BACK_WARN % (path, i + 1, (recs[i - 1][0] - recs[i][0]) // 1000000),
           iso(START), iso(recs[i - 1][0]))


@case("pcap-forward-to-2038-and-back")
def _():
    # one packet at the last second a signed 32-bit field holds, then the
    # session's own times again. Without lookahead that is a clock jump
    # like any other: later packets keep the 2038 time. With no idle
    # timeout the session still ends with its QUIT, and nothing overflows.
    recs = session()
    i = first_payload(recs, b"RCPT")
    recs[i] = ((2 ** 31 - 1) * 1000000 + 999999,) + recs[i][1:]
    path = pcap_file("forward.pcap", recs)
    expect(path, BACK_WARN % (path, i + 2, (recs[i][0] - recs[i + 1][0]) // 1000000),
           None, None, "--idle-timeout", "0", max_duration=None)


# ---- a long session and a retransmitted SYN ----

@case("pcap-syn-again-after-2-hours")
def _():
    # the client's SYN again, same ISN, two hours after the handshake
    # (past libnids' tcp_flow_timeout of an hour): libnids would free the
    # stream without telling us; the session must go on to its QUIT
    p = craft.Pcap()
    c = craft.Conn(p)
    c.handshake()
    c.server(b"220 mx.example.test ESMTP\r\n")
    c.client(b"EHLO client.test\r\n")
    c.server(b"250-mx.example.test\r\n250 PIPELINING\r\n")
    p.tick(2 * 3600 * 1000000)
    syn = c.packet("client", craft.SYN, seq=c.s["client"].isn)
    p.ip(syn, c.s["client"].mac, c.s["server"].mac)
    c.client(b"MAIL FROM:<alice@example.test>\r\n")
    c.server(b"250 2.1.0 Ok\r\n")
    c.client(b"RCPT TO:<bob@example.org>\r\n")
    c.server(b"250 2.1.5 Ok\r\n")
    c.client(b"DATA\r\n")
    c.server(b"354 go ahead\r\n")
    c.client(b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <1@client.test>\r\n"
             b"Subject: hostile times\r\n\r\nhello\r\n.\r\n")
    c.server(b"250 2.0.0 Ok: queued as 4XyZ\r\n")
    c.client(b"QUIT\r\n")
    c.server(b"221 2.0.0 Bye\r\n")
    c.close()
    recs = [(ts, f, "") for ts, f in p.records]
    check(len(recs) == len(session()) + 1, "the crafted session changed")
    path = pcap_file("syn-again.pcap", recs)
    events = expect(path, None, iso(START), iso(recs[-1][0]), "--idle-timeout", "0",
                    max_duration=None, packets=len(recs))
    d = events[1]["smtp"]["duration_us"]
    check(7200 * 1000000 < d < 7201 * 1000000, "duration_us %d, want 2 hours and a bit" % d)


# ---- main ----


def main():
    global BIN, TMP
    BIN, TMP = SUITE.start()
    return SUITE.run() if BIN else 1


if __name__ == "__main__":
    sys.exit(main())
