#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Command-line tests for smtpscope: error paths, options, link layers and capture formats."""

# usage: tests/cli.py [SMTPSCOPE]   (default build/smtpscope-san, the ASan/UBSan
# build). Prints one line per case, "PASS cli/<name>", "FAIL cli/<name>: <why>"
# or "SKIP cli/<name>: <why>", and exits 1 if any case failed. Every run of
# the binary has ASAN_OPTIONS=detect_leaks=1; a sanitizer report on stderr is a
# failure. Generated captures live in a temporary directory, removed at exit.

import fcntl
import base64
import functools
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True   # leave no __pycache__ in tests/
sys.path.insert(0, str(Path(__file__).resolve().parent))
import pcaptool as pt  # noqa: E402
from livecap import free_port, packet_socket_open  # noqa: E402

ENVELOPE = ["timestamp", "flow_id", "event_type", "src_ip", "src_port", "dest_ip",
            "dest_port", "proto", "app_proto", "community_id"]
STATS_KEYS = ["timestamp", "event_type", "stats"]
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0000$")
SANITIZER_RE = re.compile(r"(Address|Leak|UndefinedBehavior|Memory|Thread)Sanitizer|runtime error:")
RUN_TIMEOUT = 30

BIN = None   # absolute path of the binary under test
TMP = None   # temporary directory of this run
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
ENV.pop("TZ", None)


class Fail(Exception):
    pass


class Skip(Exception):
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


# ---- running the binary ----

class Result:
    def __init__(self, rc, out, err):
        self.rc = rc
        self.out = out              # bytes
        self.err = err              # str
        self.err_lines = err.splitlines()

    def brief(self):
        return "exit %s, stderr %r" % (self.rc, self.err[:300])


def sanitizer_check(rc, err):
    m = SANITIZER_RE.search(err)
    if m:
        line = next((x for x in err.splitlines() if SANITIZER_RE.search(x)), m.group(0))
        raise Fail("sanitizer report: %s" % line.strip()[:300])
    if rc is not None and rc < 0:
        raise Fail("killed by signal %d; stderr %r" % (-rc, err[:300]))


def run(args, stdin=None, data=None, prefix=(), env=None, timeout=RUN_TIMEOUT):
    """Run the binary (from the repository root) and return a Result."""
    cmd = list(prefix) + [BIN] + [str(a) for a in args]
    try:
        p = subprocess.run(cmd, cwd=ROOT, env=env or ENV, stdin=stdin, input=data,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail("timed out after %d s: %s" % (timeout, " ".join(map(str, args))))
    err = p.stderr.decode("utf-8", "replace")
    sanitizer_check(p.returncode, err)
    return Result(p.returncode, p.stdout, err)


def run_ok(args, **kw):
    """A run that must succeed silently."""
    r = run(args, **kw)
    check(r.rc == 0, "%s: %s" % (" ".join(map(str, args)), r.brief()))
    check(r.err == "", "%s: unexpected stderr %r" % (" ".join(map(str, args)), r.err[:300]))
    return r


def expect_error(r, code, pattern):
    """Exit code, empty stdout, and exactly one stderr line matching pattern."""
    check(r.rc == code, "expected exit %d, got %s" % (code, r.brief()))
    check(r.out == b"", "expected no stdout, got %r" % r.out[:200])
    check(len(r.err_lines) == 1, "expected one stderr line, got %r" % r.err[:300])
    check(re.fullmatch(pattern, r.err_lines[0]) is not None,
          "stderr %r does not match %r" % (r.err_lines[0], pattern))


def wait_pipe_read(proc, limit=10):
    """Until proc has read everything written to its stdin pipe."""
    deadline = time.time() + limit
    buf = bytearray(4)
    while time.time() < deadline:
        fcntl.ioctl(proc.stdin.fileno(), termios.FIONREAD, buf)
        if struct.unpack("i", bytes(buf))[0] == 0:
            return
        time.sleep(0.02)


def parse(out):
    """NDJSON stdout to a list of events; every line must be a JSON object."""
    text = out.decode("utf-8")
    check(text == "" or text.endswith("\n"), "output does not end with a newline")
    events = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            ev = json.loads(line)
        except ValueError as e:
            raise Fail("line %d is not JSON (%s): %r" % (n, e, line[:120]))
        check(isinstance(ev, dict), "line %d is not a JSON object" % n)
        events.append(ev)
    return events


def of_type(events, t):
    return [e for e in events if e.get("event_type") == t]


def stats_of(events):
    check(events and events[-1].get("event_type") == "stats",
          "the last event is not a stats event")
    check(len(of_type(events, "stats")) == 1, "more than one stats event")
    return events[-1]["stats"]


def sessions(events):
    return of_type(events, "smtp_session")


def only_session(events):
    s = sessions(events)
    check(len(s) == 1, "expected 1 smtp_session event, got %d" % len(s))
    return s[0]


def tmp(name):
    return os.path.join(TMP, name)


def write(name, data):
    path = tmp(name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def pcap(name):
    return "pcaps/%s.pcap" % name


@functools.lru_cache(maxsize=None)
def capture(name):
    return pt.read_pcap(str(ROOT / pcap(name)))


@functools.lru_cache(maxsize=None)
def reference(name, *opts):
    """stdout of a plain run on a bundled capture (checked to succeed)."""
    return run_ok(["-r", pcap(name)] + list(opts)).out


def is_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def as_nobody():
    """The setpriv prefix that drops root to nobody, or Skip."""
    if not is_root():
        raise Skip("not root, cannot switch to user nobody")
    setpriv = shutil.which("setpriv")
    if not setpriv:
        raise Skip("setpriv not installed")
    probe = subprocess.run([setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            "true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        raise Skip("setpriv cannot switch to nobody/nogroup here")
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


# ---- 1. usage errors: exit 2 ----

def usage_case(name, args, pattern):
    @case("usage-" + name)
    def t():
        expect_error(run(args), 2, pattern)


ONE_SOURCE = r"smtpscope: give exactly one of -r FILE or -i IFACE \(see --help\)"
usage_case("no-source", [], ONE_SOURCE)
usage_case("no-source-with-options", ["--commands", "-T"], ONE_SOURCE)
usage_case("both-sources", ["-r", pcap("helo-plain"), "-i", "lo"], ONE_SOURCE)
usage_case("ports-abc", ["-r", pcap("helo-plain"), "--ports", "abc"],
           r"smtpscope: --ports: invalid number 'abc'")
usage_case("ports-0", ["-r", pcap("helo-plain"), "--ports", "0"],
           r"smtpscope: --ports: invalid number '0'")
usage_case("ports-65536", ["-r", pcap("helo-plain"), "--ports", "25,65536"],
           r"smtpscope: --ports: invalid number '65536'")
usage_case("ports-negative", ["-r", pcap("helo-plain"), "--ports", "-25"],
           r"smtpscope: --ports: invalid number '-25'")
usage_case("ports-empty", ["-r", pcap("helo-plain"), "--ports", ","],
           r"smtpscope: --ports: empty list")
usage_case("ports-17", ["-r", pcap("helo-plain"), "--ports", ",".join(str(p) for p in range(1, 18))],
           r"smtpscope: --ports: at most 16 ports")
usage_case("count-abc", ["-r", pcap("helo-plain"), "-c", "abc"],
           r"smtpscope: -c: invalid number 'abc'")
usage_case("count-0", ["-r", pcap("helo-plain"), "-c", "0"],
           r"smtpscope: -c: invalid number '0'")
usage_case("count-trailing-junk", ["-r", pcap("helo-plain"), "--count", "5x"],
           r"smtpscope: -c: invalid number '5x'")
usage_case("snaplen-10", ["-r", pcap("helo-plain"), "-s", "10"],
           r"smtpscope: -s: invalid number '10'")
usage_case("snaplen-too-big", ["-r", pcap("helo-plain"), "-s", "262145"],
           r"smtpscope: -s: invalid number '262145'")
usage_case("max-sessions-0", ["-r", pcap("helo-plain"), "--max-sessions", "0"],
           r"smtpscope: --max-sessions: invalid number '0'")


def usage_text():
    r = run_ok(["--help"])
    return r.out.decode()


@case("usage-unknown-long-option")
def _():
    r = run(["--bogus", "-r", pcap("helo-plain")])
    check(r.rc == 2, "expected exit 2, got %s" % r.brief())
    check(r.out == b"", "expected no stdout")
    check(re.fullmatch(r"\S*smtpscope\S*: unrecognized option '--bogus'", r.err_lines[0] if r.err_lines else ""),
          "first stderr line %r" % r.err[:200])
    check("\n".join(r.err_lines[1:]) + "\n" == usage_text(),
          "the usage text on stderr differs from --help")


@case("usage-unknown-short-option")
def _():
    r = run(["-x", "-r", pcap("helo-plain")])
    check(r.rc == 2, "expected exit 2, got %s" % r.brief())
    check(r.out == b"", "expected no stdout")
    check(re.fullmatch(r"\S*smtpscope\S*: invalid option -- 'x'", r.err_lines[0] if r.err_lines else ""),
          "first stderr line %r" % r.err[:200])
    check(r.err_lines[1:2] == ["usage: smtpscope [options] -r FILE [BPF expression]"],
          "no usage text after the message: %r" % r.err[:200])


@case("usage-missing-argument")
def _():
    r = run(["-r"])
    check(r.rc == 2, "expected exit 2, got %s" % r.brief())
    check(re.fullmatch(r"\S*smtpscope\S*: option requires an argument -- 'r'",
                       r.err_lines[0] if r.err_lines else ""), "stderr %r" % r.err[:200])


@case("explain")
def _():
    """--explain: a reply code, an enhanced status code, both; junk is refused."""
    want = {
        "550": "550: not taken: mailbox unavailable (not found, no access, or "
               "refused by policy)\n",
        "5.7.1": "5.7.1: delivery not authorized, message refused (permanent "
                 "failure)\n",
        "550 5.1.1": "550: not taken: mailbox unavailable (not found, no access, "
                     "or refused by policy)\n5.1.1: bad destination mailbox "
                     "address (permanent failure)\n",
        "4.2.2": "4.2.2: mailbox full (persistent transient failure)\n",
        "5.7.99": "5.7.99: security or policy status (permanent failure)\n",
        "421": "421: service not available, closing the connection\n",
    }
    for arg, text in want.items():
        out = run_ok(["--explain", arg]).out.decode()
        check(out == text, "--explain %s: %r, expected %r" % (arg, out, text))
    for junk in ("abc", "5.9.1", "5.1", "550 x", "1234", ""):
        r = run(["--explain", junk])
        expect_error(r, 2, r"smtpscope: --explain: '.*' is neither a reply code "
                     r"\(550\) nor an enhanced status code \(5\.7\.1\)")


@case("color")
def _():
    """-T colours: never on a pipe by default, --color=always as grep does."""
    p = pcap("rcpt-rejections")
    plain = run_ok(["-r", p, "-T"]).out.decode()
    check("\x1b" not in plain, "escape codes on a pipe without --color")
    check(run_ok(["-r", p, "-T", "--color=never"]).out.decode() == plain,
          "--color=never differs from the plain transcript")
    colored = run_ok(["-r", p, "-T", "--color=always"]).out.decode()
    lines = colored.splitlines()
    red = [l for l in lines if l.startswith("\x1b[31m")]
    yellow = [l for l in lines if l.startswith("\x1b[33m")]
    dim = [l for l in lines if l.startswith("\x1b[2m  C: ")]
    check(any(l.startswith("\x1b[31m! S: 550 5.1.1") for l in red), "550 not red")
    check(any(l.startswith("\x1b[33m! S: 454 4.7.1") for l in yellow), "454 not yellow")
    check(any(l.startswith("\x1b[33m!      (4.7.1)") for l in yellow),
          "the 454's meaning line not yellow")
    check(len(dim) == plain.count("\n  C: "), "client lines not all dim")
    check(re.sub("\x1b\\[[0-9]*m", "", colored) == plain,
          "colours changed the text")
    r = run(["-r", p, "-T", "--color=sometimes"])
    expect_error(r, 2, r"smtpscope: --color: 'sometimes' is not auto, always or never")


@case("progress")
def _():
    """--progress: lines on stderr only, never a change to the events."""
    p = pcap("two-messages")
    plain = run_ok(["-r", p])
    r = run(["-r", p, "--progress"])
    check(r.rc == 0, "--progress: %s" % r.brief())
    check(r.out == plain.out, "--progress changed the events")
    check(len(r.err_lines) == 1 and re.fullmatch(
        r"smtpscope: \d+\.\d MB \(100%\), 31 packets, 1 sessions, \d+ alerts, "
        r"\d+ MB/s, 0:00 left", r.err_lines[0]) is not None,
        "--progress on a pipe: %r" % r.err[:300])
    check(run(["-r", p, "--progress", "--no-progress"]).err == "",
          "--no-progress still shows progress")


@case("relay-options")
def _():
    """--local-domains with a leading dot takes subdomains; bad nets refused."""
    p = pcap("relay-open")
    def relays(args):
        return [e for e in parse(run_ok(["-r", p] + args).out)
                if e.get("event_type") == "smtp_alert" and
                e["smtp"]["alert"]["kind"] == "open_relay"]
    check(len(relays(["--local-domains", "example.test"])) == 1, "open_relay not raised")
    check(relays(["--local-domains", "example.test,.example"]) == [],
          "a leading-dot domain does not take its subdomains")
    check(relays(["--local-domains", "EXAMPLE.test,ELSEWHERE.example"]) == [],
          "domains are compared without case")
    check(relays(["--local-domains", "example.test", "--trusted-nets",
                  "10.0.0.0/8,127.0.0.1"]) == [], "a trusted address still alerts")
    check(len(relays(["--local-domains", "example.test", "--trusted-nets",
                      "127.0.0.2/32,::1/128"])) == 1, "an untrusted client was trusted")
    for bad in ("127.0.0.0/33", "nonsense", "::1/129"):
        expect_error(run(["-r", p, "--trusted-nets", bad]), 2,
                     r"smtpscope: --trusted-nets: '.*' is not an address or a CIDR block")


@case("help")
def _():
    text = usage_text()
    check(text.startswith("usage: smtpscope [options] -r FILE [BPF expression]\n"),
          "--help does not start with the usage line: %r" % text[:80])
    for opt in ("--read FILE", "--interface IFACE", "--list-interfaces", "--text", "--transcript",
                "--output FILE", "--commands", "--ports LIST", "--count N", "--snaplen N",
                "--max-sessions N", "--help", "--version"):
        check(opt in text, "--help does not mention %s" % opt)
    check(run_ok(["-h"]).out.decode() == text, "-h and --help differ")


@case("version")
def _():
    for opt in ("-V", "--version"):
        r = run_ok([opt])
        check(re.fullmatch(rb"smtpscope \d+\.\d+\.\d+\n", r.out), "%s printed %r" % (opt, r.out))


# ---- 2. runtime errors: exit 1, one line ----

@case("error-missing-file")
def _():
    path = tmp("no-such-file.pcap")
    expect_error(run(["-r", path]), 1,
                 r"smtpscope: %s: No such file or directory" % re.escape(path))


@case("error-not-a-capture")
def _():
    expect_error(run(["-r", "pcaps/README.md"]), 1,
                 r"smtpscope: pcaps/README\.md: not a pcap or pcapng capture file")


@case("error-directory-input")
def _():
    expect_error(run(["-r", "pcaps"]), 1, r"smtpscope: pcaps: .*Is a directory")


@case("error-truncated-global-header")
def _():
    raw = (ROOT / pcap("helo-plain")).read_bytes()
    for n in (10, 23):
        path = write("head%d.pcap" % n, raw[:n])
        expect_error(run(["-r", path]), 1,
                     r"smtpscope: %s: truncated capture file \(incomplete header\)" % re.escape(path))


@case("error-empty-file")
def _():
    path = write("empty.pcap", b"")
    expect_error(run(["-r", path]), 1,
                 r"smtpscope: %s: truncated capture file \(incomplete header\)" % re.escape(path))


@case("error-unsupported-linktype")
def _():
    path = write("wifi.pcap", pt.pcap_bytes(105, capture("helo-plain").packets))
    expect_error(run(["-r", path]), 1,
                 r"smtpscope: %s: unsupported link type IEEE802_11 \(105\)" % re.escape(path))


@case("error-bad-filter")
def _():
    expect_error(run(["-r", pcap("helo-plain"), "port nonsense"]), 1,
                 r"smtpscope: bad filter 'port nonsense': .+")
    expect_error(run(["-r", pcap("helo-plain"), "port", "nonsense"]), 1,
                 r"smtpscope: bad filter 'port nonsense': .+")


@case("error-no-such-interface")
def _():
    if not is_root():
        raise Skip("not root: opening an interface fails on permission first")
    expect_error(run(["-i", "nosuchif0"]), 1, r"smtpscope: nosuchif0: no such interface")


@case("error-live-permission-denied")
def _():
    prefix = as_nobody()
    expect_error(run(["-i", "lo"], prefix=prefix), 1,
                 r"smtpscope: lo: permission denied \(capturing needs root or CAP_NET_RAW\)")


@case("error-file-permission-denied")
def _():
    prefix = as_nobody()
    d = tmp("private")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    path = os.path.join(d, "secret.pcap")
    shutil.copyfile(ROOT / pcap("helo-plain"), path)
    os.chmod(path, 0o600)
    expect_error(run(["-r", path], prefix=prefix), 1,
                 r"smtpscope: %s: Permission denied" % re.escape(path))


@case("error-output-unwritable")
def _():
    path = tmp("no-such-dir/events.json")
    expect_error(run(["-r", pcap("helo-plain"), "-o", path]), 1,
                 r"smtpscope: %s: No such file or directory" % re.escape(path))
    check(not os.path.exists(os.path.dirname(path)), "the output directory was created")
    expect_error(run(["-r", pcap("helo-plain"), "-o", TMP]), 1,
                 r"smtpscope: %s: Is a directory" % re.escape(TMP))


FULL_WARNING = ("smtpscope: output %s: No space left on device; "
                "events dropped (and counted) until it is back")


@case("error-write-stdout")
def _():
    """stdout on a full disk: a sink like any file, its losses counted; exit 1."""
    if not os.path.exists("/dev/full"):
        raise Skip("no /dev/full")
    with open("/dev/full", "wb") as full:
        p = subprocess.run([BIN, "-r", pcap("helo-plain")], cwd=ROOT, env=ENV,
                           stdout=full, stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
    err = p.stderr.decode("utf-8", "replace")
    sanitizer_check(p.returncode, err)
    r = Result(p.returncode, b"", err)
    expect_error(r, 1, re.escape(FULL_WARNING % "stdout"))


@case("error-write-output")
def _():
    if not os.path.exists("/dev/full"):
        raise Skip("no /dev/full")
    expect_error(run(["-r", pcap("helo-plain"), "-o", "/dev/full"]), 1,
                 re.escape(FULL_WARNING % "/dev/full"))


def many_sessions(n):
    """helo-plain n times over, one client port each, 1 s apart: a capture
    whose events fill more than the output buffer (64 KB)."""
    cap = capture("helo-plain")
    cport, _ = flow_ports("helo-plain")
    pkts = []
    for i in range(n):
        pkts += [pt.Packet(p.ts_us + i * 1000000, p.wirelen,
                           pt.rewrite_port(p.data, cport, 20000 + i)) for p in cap.packets]
    return write("many-%d.pcap" % n, pt.pcap_bytes(E, pkts))


@case("stdout-reader-gone")
def _():
    """| head: stdout's reader goes away (EPIPE). The run stops then,
    quietly (exit 0, no stderr); a file beside gets every event up to the
    stop, the open session ended as shutdown, and the losses counted."""
    path, src = tmp("beside-pipe.json"), many_sessions(200)
    proc = subprocess.Popen([BIN, "-r", src, "--commands", "-o", "-", "-o", path], cwd=ROOT,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdout.close()   # the reader is gone before the first event
        rc = proc.wait(timeout=RUN_TIMEOUT)
        err = proc.stderr.read().decode("utf-8", "replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    sanitizer_check(rc, err)
    check(rc == 0 and err == "", "exit %s, stderr %r" % (rc, err[:300]))
    events = parse(open(path, "rb").read())
    n = len(sessions(events))
    check(events[-1]["event_type"] == "stats" and 0 < n < 200,
          "%d sessions in the file beside, of 200" % n)
    check(sessions(events)[-1]["smtp"]["close"] in ("shutdown", "quit"),
          "the last session ended as %r" % sessions(events)[-1]["smtp"]["close"])
    check(stats_of(events)["output_dropped"] == len(events) - 1,
          "output_dropped %s of %d events" % (stats_of(events)["output_dropped"], len(events)))
    # small output: the loss is seen at the last write; still quiet
    r = subprocess.run("%s -r %s | head -c 10 >/dev/null; echo ${PIPESTATUS[0]}"
                       % (BIN, pcap("helo-plain")), shell=True, executable="/bin/bash",
                       cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=RUN_TIMEOUT)
    err = r.stderr.decode("utf-8", "replace")
    sanitizer_check(None, err)
    check(r.stdout.strip() == b"0" and err == "", "| head: exit %s, stderr %r"
          % (r.stdout.strip(), err[:300]))


# ---- 3. truncated captures ----

def record_offsets(raw):
    """Offsets of the records of a little-endian classic pcap."""
    offs, off = [], 24
    while off < len(raw):
        offs.append(off)
        caplen = struct.unpack("<I", raw[off + 8:off + 12])[0]
        off += 16 + caplen
    return offs


def check_truncated_run(path, complete, full_events):
    r = run(["-r", path])
    check(r.rc == 1, "expected exit 1, got %s" % r.brief())
    check(len(r.err_lines) == 1, "expected one stderr line, got %r" % r.err[:300])
    check(re.fullmatch(r"smtpscope: %s: capture file truncated after packet %d: .*truncated.*"
                       % (re.escape(path), complete), r.err_lines[0]),
          "stderr %r" % r.err_lines[0])
    events = parse(r.out)
    st = stats_of(events)
    check(st["packets"] == complete, "stats.packets %s, expected %d" % (st["packets"], complete))
    check(st["events"] == len(events), "stats.events %s for %d lines" % (st["events"], len(events)))
    s = only_session(events)["smtp"]
    check(s["close"] == "eof", "close is %r, expected eof" % s.get("close"))
    check(s.get("banner") == "mx.example.test ESMTP", "banner %r" % s.get("banner"))
    full_txn = of_type(full_events, "smtp_transaction")
    check(of_type(events, "smtp_transaction") == full_txn,
          "the transaction before the damage differs from the full run's")


@case("truncated-inside-last-packet")
def _():
    raw = (ROOT / pcap("helo-plain")).read_bytes()
    offs = record_offsets(raw)
    full = parse(reference("helo-plain"))
    path = write("cut-data.pcap", raw[:len(raw) - 20])
    check_truncated_run(path, len(offs) - 1, full)


@case("truncated-inside-record-header")
def _():
    raw = (ROOT / pcap("helo-plain")).read_bytes()
    offs = record_offsets(raw)
    full = parse(reference("helo-plain"))
    path = write("cut-header.pcap", raw[:offs[-1] + 8])
    check_truncated_run(path, len(offs) - 1, full)


@case("truncated-pcapng")
def _():
    cap = capture("helo-plain")
    ng = pt.pcapng_bytes(pt.LINKTYPE_ETHERNET, cap.packets)
    full = parse(reference("helo-plain"))
    path = write("cut.pcapng", ng[:-20])
    check_truncated_run(path, len(cap.packets) - 1, full)


@case("truncated-pcapng-mixed-linktypes")
def _():
    cap = capture("helo-plain")
    data, _ = mixed_linktypes(cap)
    full = parse(reference("helo-plain"))
    path = write("cut-mixed.pcapng", data[:-20])
    check_truncated_run(path, len(cap.packets) - 1, full)


def check_damaged(path, kept, pattern):
    """Exit 1, one stderr line, and the packets before the damage analysed."""
    r = run(["-r", path])
    check(r.rc == 1, "expected exit 1, got %s" % r.brief())
    check(len(r.err_lines) == 1, "expected one stderr line, got %r" % r.err[:300])
    check(re.fullmatch(r"smtpscope: %s: %s" % (re.escape(path), pattern), r.err_lines[0]),
          "stderr %r does not match %r" % (r.err_lines[0], pattern))
    events = parse(r.out)
    st = stats_of(events)
    check(st["packets"] == kept, "stats.packets %s, expected %d" % (st["packets"], kept))
    check(st["events"] == len(events), "stats.events %s for %d lines" % (st["events"], len(events)))
    return events


@case("truncated-pcapng-inside-epb")
def _():
    # cut in the fixed part, then in the data, of the 8th packet's EPB
    data, _ = mixed_linktypes(capture("two-messages"))
    epbs = [(off, n) for off, t, n in ng_blocks(data) if t == 6]
    for name, cut in (("header", epbs[7][0] + 18), ("data", epbs[7][0] + 40),
                      ("trailer", epbs[7][0] + epbs[7][1] - 2)):
        path = write("cut-epb-%s.pcapng" % name, data[:cut])
        events = check_damaged(path, 7, r"capture file truncated after packet 7: .*truncated.*")
        check(sessions(events), "%s: the session before the cut is not reported" % name)
    # a cut between blocks is an ordinary end
    path = write("cut-between.pcapng", data[:epbs[7][0]])
    st = stats_of(parse(run_ok(["-r", path]).out))
    check(st["packets"] == 7, "cut between blocks: stats.packets %s, expected 7" % st["packets"])


@case("pcapng-malformed-blocks")
def _():
    cap = capture("two-messages")
    data, _ = mixed_linktypes(cap)
    epbs = [off for off, t, _ in ng_blocks(data) if t == 6]
    at = epbs[5]
    p = cap.packets[5]
    good = ng_epb(0, 0, p)
    bad = [
        ("short", struct.pack("<II", 6, 8) + b"\0" * 4,
         r"read error after packet 5: block of type 6 has a length of 8, less than 12"),
        ("zero", struct.pack("<II", 6, 0),
         r"read error after packet 5: block of type 6 has a length of 0, less than 12"),
        ("odd", struct.pack("<II", 6, 30) + b"\0" * 22,
         r"read error after packet 5: block of type 6 has a length of 30, not a multiple of 4"),
        ("huge", struct.pack("<II", 6, 0xFFFFFFF0),
         r"read error after packet 5: block of type 6 has a length of 4294967280, more than the "
         r"maximum \d+"),
        ("trailer", good[:-4] + struct.pack("<I", len(good) + 4),
         r"read error after packet 5: block of type 6 has a length of \d+ in its header and \d+ in "
         r"its trailer"),
        ("caplen", good[:20] + struct.pack("<I", len(good)) + good[24:],
         r"read error after packet 5: block of type 6: the packet overruns the block"),
        ("epb-too-short", ng_block(6, b"\0" * 16),
         r"read error after packet 5: block of type 6: too short"),
        ("no-interface", ng_epb(7, 0, p),
         r"read error after packet 5: a packet on interface 7, which no interface description "
         r"block of its section declares"),
        ("tsresol", ng_idb(E, tsresol=20),
         r"read error after packet 5: block of type 1: if_tsresol is too fine"),
        ("option", ng_block(1, struct.pack("<HHIHH", E, 0, 0, 2, 200)),
         r"read error after packet 5: block of type 1: an option overruns the block"),
        ("shb-magic", ng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x11223344, 1, 0, -1)),
         r"read error after packet 5: section header block without the byte-order magic"),
        ("shb-version", ng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 2, 0, -1)),
         r"read error after packet 5: unsupported pcapng version 2\.0"),
    ]
    for name, block, pattern in bad:
        path = write("bad-%s.pcapng" % name, data[:at] + block + data[at:])
        check_damaged(path, 5, pattern)


@case("error-pcapng-bad-header")
def _():
    shb = ng_shb()
    idb = ng_idb(E)
    p = capture("helo-plain").packets[0]
    cases = [
        ("magic-only", shb[:4], r"truncated capture file \(incomplete header\)"),
        ("shb-cut", shb[:20], r"truncated capture file \(incomplete header\)"),
        ("no-bom", shb[:8] + b"GIF8" + shb[12:], r"not a pcap or pcapng capture file"),
        ("shb-short", struct.pack("<I", 0x0A0D0D0A) + struct.pack("<I", 16) + shb[8:12] +
         struct.pack("<I", 16), r"section header block has a length of 16, less than 28"),
        ("shb-odd", shb[:4] + struct.pack("<I", 30) + shb[8:], r"block of type \d+ has a length of 30, "
         r"not a multiple of 4"),
        ("version", ng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 9, 0, -1)),
         r"unsupported pcapng version 9\.0"),
        ("no-idb", shb, r"no interface description block before the first packet"),
        ("packet-first", shb + ng_epb(0, 0, p) + idb,
         r"a packet on interface 0, which no interface description block of its section declares"),
        ("idb-cut", shb + idb[:-3], r"truncated capture file \(incomplete header\)"),
    ]
    for name, data, pattern in cases:
        path = write("hdr-%s.pcapng" % name, data)
        expect_error(run(["-r", path]), 1, r"smtpscope: %s: %s" % (re.escape(path), pattern))


@case("pcapng-every-cut")
def _():
    # no crash and at most one line of error wherever the file ends
    data, _ = two_sections(capture("helo-plain"))
    bounds = {off for off, _, _ in ng_blocks(data)}
    for cut in sorted(set(range(0, len(data), 61)) | {b + d for b in bounds for d in (1, 8, 13)}):
        if cut > len(data) or cut < 28:
            continue
        path = write("every-cut.pcapng", data[:cut])
        r = run(["-r", path])
        check(r.rc in (0, 1) and len(r.err_lines) <= 1, "cut at %d: %s" % (cut, r.brief()))
        check(r.rc == 0 or "truncated" in r.err, "cut at %d: %s" % (cut, r.brief()))
        if r.out:
            stats_of(parse(r.out))


@case("truncated-count-stops-before")
def _():
    raw = (ROOT / pcap("helo-plain")).read_bytes()
    path = write("cut-count.pcap", raw[:len(raw) - 20])
    r = run_ok(["-r", path, "-c", "5"])
    check(stats_of(parse(r.out))["packets"] == 5, "-c 5 did not stop after 5 packets")


# ---- 4. standard input ----

@case("stdin-pcap")
def _():
    for name in ("helo-plain", "two-messages", "ipv6"):
        with open(ROOT / pcap(name), "rb") as f:
            r = run_ok(["-r", "-", "--commands"], stdin=f)
        check(r.out == reference(name, "--commands"), "%s: -r - differs from -r FILE" % name)


@case("stdin-pcapng")
def _():
    cap = capture("two-messages")
    path = write("stdin.pcapng", pt.pcapng_bytes(pt.LINKTYPE_ETHERNET, cap.packets))
    a = run_ok(["-r", path, "--commands"]).out
    with open(path, "rb") as f:
        b = run_ok(["-r", "-", "--commands"], stdin=f).out
    check(a == b, "-r - differs from -r FILE for a pcapng")


@case("stdin-pcapng-mixed-linktypes")
def _():
    # through a pipe: the first bytes read to tell the format are replayed
    for name in ("two-messages", "ipv6"):
        data, _ = mixed_linktypes(capture(name))
        path = write("stdin-mixed.pcapng", data)
        a = run_ok(["-r", path, "--commands"]).out
        b = run_ok(["-r", "-", "--commands"], data=data).out
        check(a == b, "%s: -r - through a pipe differs from -r FILE" % name)
        check(a == reference(name, "--commands").replace(b'"bytes":%d' % total(capture(name).packets),
                                                         b'"bytes":%d' % mixed_linktypes(capture(name))[1]),
              "%s: the mixed pcapng differs from the capture" % name)


@case("stdin-pcap-pipe")
def _():
    for name in ("helo-plain", "ipv6"):
        raw = (ROOT / pcap(name)).read_bytes()
        r = run_ok(["-r", "-", "--commands"], data=raw)
        check(r.out == reference(name, "--commands"), "%s: -r - through a pipe differs" % name)
        r = run(["-r", "-"], data=raw[:3])
        expect_error(r, 1, r"smtpscope: -: truncated capture file \(incomplete header\)")


def interrupted_pipe(data):
    """Feed data through a pipe left open, then SIGINT: the read must be
    interrupted, not ended by EOF. Returns (exit code, stdout, stderr)."""
    proc = subprocess.Popen([BIN, "-r", "-"], cwd=ROOT, env=ENV, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(data)
        proc.stdin.flush()
        wait_pipe_read(proc)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=10)
        out, err = proc.stdout.read(), proc.stderr.read().decode("utf-8", "replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        proc.stdout.close()
        proc.stderr.close()
    return rc, out, err


@case("stdin-interrupted")
def _():
    """SIGINT while reading a pipe: a stop on request, like live capture (exit 0)."""
    raw = (ROOT / pcap("helo-plain")).read_bytes()
    offs = record_offsets(raw)
    keep = 10
    rc, out, err = interrupted_pipe(raw[:offs[keep]])
    sanitizer_check(rc, err)
    events = parse(out)
    s = only_session(events)["smtp"]
    check(s["close"] == "shutdown", "close is %r, expected shutdown" % s["close"])
    check(stats_of(events)["packets"] == keep, "stats.packets %s, expected %d"
          % (stats_of(events)["packets"], keep))
    check(rc == 0 and err == "",
          "interrupted by SIGINT while reading a pipe: expected exit 0 and no stderr "
          "(as for a live capture), got exit %d, stderr %r" % (rc, err.strip()[:200]))


@case("pcapng-filter-mixed-linktypes")
def _():
    # the BPF expression is compiled for each link type of the file
    cap = capture("helo-plain")
    other = [p.replace(pt.rewrite_port(p.data, 25, 80)) for p in cap.packets]
    merged = sorted(cap.packets + other, key=lambda p: p.ts_us)
    data, _ = mixed_linktypes(pt.Capture(E, 262144, merged))
    path = write("filter-mixed.pcapng", data)
    n = len(cap.packets)
    events = parse(run_ok(["-r", path, "host 127.0.0.1"]).out)
    st = stats_of(events)
    check(len(sessions(events)) == 1, "expected 1 session")
    check(st["packets"] == n, "'host 127.0.0.1': stats.packets %s, expected the %d port-25 packets"
          % (st["packets"], n))
    events = parse(run_ok(["-r", path, "port 9"]).out)
    check(stats_of(events)["packets"] == 0 and len(events) == 1, "'port 9' let packets through")
    expect_error(run(["-r", path, "port nonsense"]), 1, r"smtpscope: bad filter 'port nonsense': .+")
    expect_error(run(["-r", path, "ether host 02:00:00:00:00:01"]), 1,
                 r"smtpscope: bad filter 'ether host 02:00:00:00:00:01' for link type RAW \(\d+\): .+")


@case("pcapng-count")
def _():
    data, _ = mixed_linktypes(capture("helo-plain"))
    path = write("count-mixed.pcapng", data)
    r = run_ok(["-r", path, "-c", "5"])
    events = parse(r.out)
    check(stats_of(events)["packets"] == 5, "-c 5 did not stop after 5 packets")
    check(parse(run_ok(["-r", pcap("helo-plain"), "-c", "5"]).out)[:-1] == events[:-1],
          "-c 5 on the mixed pcapng differs from -c 5 on the capture")
    cut = write("count-mixed-cut.pcapng", data[:-20])
    check(stats_of(parse(run_ok(["-r", cut, "-c", "5"]).out))["packets"] == 5,
          "-c 5 on a truncated pcapng")


@case("error-pcapng-unsupported-linktype")
def _():
    cap = capture("helo-plain")
    data = pt.pcapng_multi([(105, 9), (105, None)], [(i % 2, p) for i, p in enumerate(cap.packets)])
    path = write("wifi.pcapng", data)
    expect_error(run(["-r", path]), 1,
                 r"smtpscope: %s: unsupported link type IEEE802_11 \(105\)" % re.escape(path))


@case("pcapng-unsupported-interface")
def _():
    # packets of an interface we cannot read are counted, not fatal
    cap = capture("helo-plain")
    junk = [pt.Packet(cap.packets[0].ts_us, 40, b"\x08\x02" + b"\0" * 38)] * 3
    recs = [(1, p) for p in junk] + [(0, p) for p in cap.packets]
    path = write("with-wifi.pcapng", pt.pcapng_multi([(E, 9), (105, 9)], recs))
    got, ref = parse(run_ok(["-r", path]).out), parse(reference("helo-plain"))
    for e in ref[:-1]:
        e["pcap_cnt"] += len(junk)
    check(got[:-1] == ref[:-1], "the events change with packets of another interface")
    st, rst = stats_of(got), stats_of(ref)
    want = dict(rst, packets=rst["packets"] + len(junk), bytes=rst["bytes"] + total(junk),
                not_ip=rst["not_ip"] + len(junk))
    check(st == want, "stats %r, expected %r" % (st, want))


@case("pcapng-simple-packet-blocks")
def _():
    # SPBs carry no time stamp: every packet at the interface's if_tsoffset
    cap = capture("two-messages")
    for snap in (262144, 96):
        blocks = [ng_shb(), ng_idb(E, tsoffset=1700000000, snaplen=snap)]
        blocks += [ng_spb(p) for p in cap.packets]
        path = write("spb-%d.pcapng" % snap, b"".join(blocks))
        r = run(["-r", path])
        check(r.rc == 0, r.brief())
        events = parse(r.out)
        st = stats_of(events)
        ncut = sum(1 for p in cap.packets if len(p.data) > snap)
        check(st["packets"] == len(cap.packets) and st["snaplen_cut"] == ncut
              and st["bytes"] == sum(min(len(p.data), snap) for p in cap.packets),
              "snaplen %d: stats %r" % (snap, st))
        check(all(e["timestamp"] == "2023-11-14T22:13:20.000000+0000" for e in events),
              "snaplen %d: time stamps %r" % (snap, sorted({e["timestamp"] for e in events})))
        if snap == 262144:
            want = [(s["smtp"].get("banner"), s["smtp"]["commands"], s["smtp"]["close"])
                    for s in sessions(parse(reference("two-messages")))]
            got = [(s["smtp"].get("banner"), s["smtp"]["commands"], s["smtp"]["close"])
                   for s in sessions(events)]
            check(got == want, "sessions %r, expected %r" % (got, want))


@case("stdin-pcapng-interrupted")
def _():
    """SIGINT while our pcapng reader waits on a pipe: a stop, exit 0."""
    data, _ = mixed_linktypes(capture("helo-plain"))
    epbs = [off for off, t, _ in ng_blocks(data) if t == 6]
    keep = 10
    rc, out, err = interrupted_pipe(data[:epbs[keep]])
    sanitizer_check(rc, err)
    check(rc == 0 and err == "", "exit %d, stderr %r" % (rc, err.strip()[:200]))
    events = parse(out)
    check(only_session(events)["smtp"]["close"] == "shutdown", "the session did not end as shutdown")
    check(stats_of(events)["packets"] == keep, "stats.packets %s, expected %d"
          % (stats_of(events)["packets"], keep))


# ---- 5. determinism and the event envelope ----

BUNDLED = sorted(p.stem for p in (ROOT / "pcaps").glob("*.pcap"))


def check_envelope(events, where):
    st = stats_of(events)
    check(st["events"] == len(events), "%s: stats.events %s for %d lines"
          % (where, st["events"], len(events)))
    for n, ev in enumerate(events, 1):
        keys = list(ev)
        check(TS_RE.match(str(ev.get("timestamp"))), "%s line %d: timestamp %r"
              % (where, n, ev.get("timestamp")))
        if ev.get("event_type") == "stats":
            check(keys == STATS_KEYS, "%s line %d: stats keys %r" % (where, n, keys))
            continue
        check(keys[:len(ENVELOPE)] == ENVELOPE, "%s line %d: envelope keys %r" % (where, n, keys))
        check(keys[len(ENVELOPE)] == "pcap_cnt", "%s line %d: no pcap_cnt after the envelope" % (where, n))
        fid = ev["flow_id"]
        check(isinstance(fid, int) and 0 < fid < 2 ** 51, "%s line %d: flow_id %r" % (where, n, fid))
        check(ev["proto"] == "TCP" and ev["app_proto"] == "smtp",
              "%s line %d: proto/app_proto %r/%r" % (where, n, ev["proto"], ev["app_proto"]))
        check(isinstance(ev["pcap_cnt"], int) and 1 <= ev["pcap_cnt"] <= st["packets"],
              "%s line %d: pcap_cnt %r" % (where, n, ev["pcap_cnt"]))
        check(ev["event_type"] in ("smtp_session", "smtp_transaction", "smtp_alert", "smtp_command"),
              "%s line %d: event_type %r" % (where, n, ev["event_type"]))
        check(ev["community_id"] == pt.community_id(ev["src_ip"], ev["src_port"],
                                                    ev["dest_ip"], ev["dest_port"]),
              "%s line %d: community_id %s" % (where, n, ev["community_id"]))
    by_session = {}
    for ev in events[:-1]:
        k = (ev["flow_id"], ev["src_ip"], ev["src_port"], ev["dest_ip"], ev["dest_port"])
        by_session.setdefault(ev["smtp"]["session"], set()).add(k)
    for sid, ks in by_session.items():
        check(len(ks) == 1, "%s: session %s has several flow ids/tuples" % (where, sid))


@case("deterministic-output")
def _():
    for name in BUNDLED:
        a = run_ok(["-r", pcap(name), "--commands"]).out
        b = run_ok(["-r", pcap(name), "--commands"]).out
        check(a == b, "%s: two runs differ" % name)
        c = run_ok(["-r", pcap(name), "--commands"],
                   env=dict(ENV, TZ="America/New_York")).out
        check(a == c, "%s: output depends on TZ" % name)


@case("event-envelope")
def _():
    for name in BUNDLED:
        for opts in ([], ["--commands"]):
            events = parse(reference(name, *opts))
            check_envelope(events, "%s %s" % (name, " ".join(opts)))


# ---- 6. Community ID ----

def check_reference_cid():
    # the example flow of the Community ID specification
    check(pt.community_id("128.232.110.120", 34855, "66.35.250.204", 80)
          == "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "the Python reference implementation is broken")


def check_cid(out, client, server, cport, sport):
    events = parse(out)
    flows = [e for e in events if e["event_type"] != "stats"]
    check(flows, "no events")
    want = pt.community_id(client, cport, server, sport)
    for e in flows:
        check((e["src_ip"], e["src_port"], e["dest_ip"], e["dest_port"])
              == (client, cport, server, sport),
              "tuple %s:%s -> %s:%s" % (e["src_ip"], e["src_port"], e["dest_ip"], e["dest_port"]))
        check(e["community_id"] == want, "community_id %s, expected %s" % (e["community_id"], want))


def flow_ports(name):
    for p in capture(name).packets:
        sp, dp = pt.ports(p.data)
        if dp in (25, 587):
            return sp, dp
    raise Fail("no client packet in %s" % name)


@case("community-id-ipv4")
def _():
    check_reference_cid()
    cport, sport = flow_ports("helo-plain")
    check_cid(reference("helo-plain", "--commands"), "127.0.0.1", "127.0.0.1", cport, sport)


@case("community-id-ipv6")
def _():
    check_reference_cid()
    cport, sport = flow_ports("ipv6")
    check_cid(reference("ipv6", "--commands"), "::1", "::1", cport, sport)


def cid_rewritten(name, client, server, tag):
    cport, sport = flow_ports(name)
    fn = functools.partial(pt.rewrite_ip, server_port=sport, client_ip=client, server_ip=server)
    path = write("cid-%s.pcap" % tag, pt.pcap_bytes(pt.LINKTYPE_ETHERNET, pt.convert(capture(name), fn)))
    check_cid(run_ok(["-r", path, "--commands"]).out, client, server, cport, sport)


@case("community-id-ipv4-server-lower")
def _():
    check_reference_cid()
    cid_rewritten("helo-plain", "10.0.0.2", "10.0.0.1", "v4-server-lower")


@case("community-id-ipv4-client-lower")
def _():
    check_reference_cid()
    cid_rewritten("helo-plain", "10.0.0.1", "10.0.0.2", "v4-client-lower")


@case("community-id-ipv6-server-lower")
def _():
    check_reference_cid()
    cid_rewritten("ipv6", "2001:db8::2", "2001:db8::1", "v6-server-lower")


@case("community-id-ipv6-client-lower")
def _():
    check_reference_cid()
    cid_rewritten("ipv6", "2001:db8::1", "2001:db8:1::1", "v6-client-lower")


# ---- 7. link layers and file formats ----

def same_events(orig_out, new_out, expected_bytes):
    """Identical events; the stats identical but for bytes, which must be expected_bytes."""
    a, b = parse(orig_out), parse(new_out)
    check(len(a) == len(b), "%d events, expected %d" % (len(b), len(a)))
    for n, (x, y) in enumerate(zip(a[:-1], b[:-1]), 1):
        if x != y:
            diff = sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k))
            raise Fail("event %d (%s) differs in %s" % (n, x.get("event_type"), ", ".join(diff)))
    sa, sb = dict(stats_of(a)), dict(stats_of(b))
    check(sb["bytes"] == expected_bytes, "stats.bytes %s, expected %d" % (sb["bytes"], expected_bytes))
    sa.pop("bytes")
    sb.pop("bytes")
    check(sa == sb, "stats differ: %r vs %r" % (sa, sb))
    check(a[-1]["timestamp"] == b[-1]["timestamp"], "stats timestamp differs")
    check(list(b[-1]) == STATS_KEYS, "stats keys %r" % list(b[-1]))


def format_case(name, source, build):
    """build(capture) -> (file bytes, captured bytes in total)."""
    @case("format-" + name)
    def t():
        data, nbytes = build(capture(source))
        path = write("fmt-%s" % name, data)
        r = run_ok(["-r", path, "--commands"])
        same_events(reference(source, "--commands"), r.out, nbytes)


def total(packets):
    return sum(len(p.data) for p in packets)


def as_pcap(linktype, fn=None, **kw):
    def build(cap):
        pkts = pt.convert(cap, fn) if fn else cap.packets
        return pt.pcap_bytes(linktype, pkts, **kw), total(pkts)
    return build


def as_pcapng(linktype, fn=None, **kw):
    def build(cap):
        pkts = pt.convert(cap, fn) if fn else cap.packets
        return pt.pcapng_bytes(linktype, pkts, **kw), total(pkts)
    return build


def two_interfaces(cap):
    """pcapng, two Ethernet IDBs (ns and default us), packets alternating."""
    recs = [(i % 2, p) for i, p in enumerate(cap.packets)]
    return pt.pcapng_multi([(pt.LINKTYPE_ETHERNET, 9), (pt.LINKTYPE_ETHERNET, None)], recs), \
        total(cap.packets)


def mixed_linktypes(cap):
    """pcapng, an Ethernet IDB and a raw-IP IDB, packets alternating."""
    recs = [(i % 2, p if i % 2 == 0 else p.replace(pt.to_raw(p.data)))
            for i, p in enumerate(cap.packets)]
    return pt.pcapng_multi([(pt.LINKTYPE_ETHERNET, 9), (pt.LINKTYPE_RAW, 6)], recs), \
        total(p for _, p in recs)


# Our own pcapng blocks, for what pcaptool.pcapng_multi does not write:
# sections in either byte order, if_tsoffset, binary if_tsresol, the
# obsolete Packet Block, Simple Packet Blocks, blocks to skip, damage.

def ng_block(btype, body, endian="<"):
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(endian + "II", btype, n) + body + struct.pack(endian + "I", n)


def ng_shb(endian="<"):
    return ng_block(0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1), endian)


def ng_idb(linktype, endian="<", tsresol=None, tsoffset=None, snaplen=262144):
    opts = b""
    if tsresol is not None:
        opts += struct.pack(endian + "HHB3x", 9, 1, tsresol)
    if tsoffset is not None:
        opts += struct.pack(endian + "HHq", 14, 8, tsoffset)
    if opts:
        opts += struct.pack(endian + "HH", 0, 0)
    return ng_block(1, struct.pack(endian + "HHI", linktype, 0, snaplen) + opts, endian)


def ng_ticks(ts_us, tsresol=None, tsoffset=0):
    """A time stamp in the units of an IDB, rounded up: truncated back to
    microseconds (as libpcap does) it gives ts_us again."""
    if tsresol is None:
        per = 10 ** 6
    elif tsresol & 0x80:
        per = 2 ** (tsresol & 0x7F)
    else:
        per = 10 ** tsresol
    sec, us = divmod(ts_us, 10 ** 6)
    return (sec - tsoffset) * per - (-us * per // 10 ** 6)


def ng_epb(iface, ticks, p, endian="<"):
    return ng_block(6, struct.pack(endian + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF,
                                   len(p.data), p.wirelen) + p.data, endian)


def ng_pb(iface, ticks, p, endian="<"):
    return ng_block(2, struct.pack(endian + "HHIIII", iface, 0, ticks >> 32, ticks & 0xFFFFFFFF,
                                   len(p.data), p.wirelen) + p.data, endian)


def ng_spb(p, endian="<"):
    return ng_block(3, struct.pack(endian + "I", p.wirelen) + p.data, endian)


def ng_blocks(data):
    """[(offset, type, length)] of the blocks of a pcapng file."""
    out, off, endian = [], 0, "<"
    while off < len(data):
        if data[off:off + 4] == b"\x0a\x0d\x0d\x0a":
            endian = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        btype, n = struct.unpack(endian + "II", data[off:off + 8])
        out.append((off, btype, n))
        off += n
    return out


def two_sections(cap):
    """Two sections: little-endian Ethernet (ns), then big-endian with a
    raw-IP (us) and an Ethernet (2^-20 s, if_tsoffset) interface; blocks of
    other types (name resolution, statistics, custom) in between."""
    half = len(cap.packets) // 2
    first = [ng_shb(), ng_block(4, b"\0\0\0\0"), ng_idb(E, tsresol=9)]
    first += [ng_epb(0, ng_ticks(p.ts_us, 9), p) for p in cap.packets[:half]]
    off = cap.packets[0].ts_us // 10 ** 6 - 1000
    second = [ng_shb(">"), ng_block(0xBAD, b"custom block", ">"), ng_idb(pt.LINKTYPE_RAW, ">"),
              ng_idb(E, ">", tsresol=0x94, tsoffset=off)]
    sent = []
    for i, p in enumerate(cap.packets[half:]):
        if i % 2 == 0:
            p = p.replace(pt.to_raw(p.data))
            second.append(ng_epb(0, ng_ticks(p.ts_us), p, ">"))
        else:
            second.append(ng_epb(1, ng_ticks(p.ts_us, 0x94, off), p, ">"))
        sent.append(p)
    second.append(ng_block(5, struct.pack(">III", 0, 0, 0), ">"))
    return b"".join(first + second), total(cap.packets[:half] + sent)


def binary_tsresol(cap):
    """One Ethernet interface with 2^-20 s time stamps and an if_tsoffset."""
    off = cap.packets[0].ts_us // 10 ** 6
    blocks = [ng_shb(), ng_idb(E, tsresol=0x94, tsoffset=off)]
    blocks += [ng_epb(0, ng_ticks(p.ts_us, 0x94, off), p) for p in cap.packets]
    return b"".join(blocks), total(cap.packets)


def packet_blocks(cap):
    """The obsolete Packet Block, on two interfaces of different link types."""
    blocks = [ng_shb(), ng_idb(E), ng_idb(pt.LINKTYPE_LINUX_SLL, tsresol=7)]
    sent = []
    for i, p in enumerate(cap.packets):
        if i % 2:
            p = p.replace(pt.to_sll(p.data))
            blocks.append(ng_pb(1, ng_ticks(p.ts_us, 7), p))
        else:
            blocks.append(ng_pb(0, ng_ticks(p.ts_us), p))
        sent.append(p)
    return b"".join(blocks), total(sent)


def bad_checksums(frame):
    b = bytearray(frame)
    where = pt.tcp_offset(frame)
    if where:
        ip, t, ver = where
        if ver == 4:
            b[ip + 10] ^= 0x5A
        b[t + 16] ^= 0xA5
    return bytes(b)


V4 = "two-messages"
V6 = "ipv6"
E = pt.LINKTYPE_ETHERNET
FORMATS = [
    ("v4-pcapng-ns", V4, as_pcapng(E, tsresol=9)),
    ("v4-pcapng-us", V4, as_pcapng(E, tsresol=None)),
    ("v4-pcapng-big-endian", V4, as_pcapng(E, tsresol=9, endian=">")),
    ("v4-pcapng-two-interfaces", V4, two_interfaces),
    ("v4-pcapng-mixed-linktypes", V4, mixed_linktypes),
    ("v4-pcapng-two-sections", V4, two_sections),
    ("v4-pcapng-tsresol-binary-tsoffset", V4, binary_tsresol),
    ("v4-pcapng-packet-blocks", V4, packet_blocks),
    ("v4-pcap-ns", V4, as_pcap(E, nano=True)),
    ("v4-pcap-big-endian", V4, as_pcap(E, endian=">")),
    ("v4-raw", V4, as_pcap(pt.LINKTYPE_RAW, pt.to_raw)),
    ("v4-sll", V4, as_pcap(pt.LINKTYPE_LINUX_SLL, pt.to_sll)),
    ("v4-sll2", V4, as_pcap(pt.LINKTYPE_LINUX_SLL2, pt.to_sll2)),
    ("v4-vlan", V4, as_pcap(E, pt.to_vlan)),
    ("v4-qinq", V4, as_pcap(E, pt.to_qinq)),
    ("v4-null", V4, as_pcap(pt.LINKTYPE_NULL, functools.partial(pt.to_null, endian="="))),
    ("v4-null-big-endian-file", V4, as_pcap(pt.LINKTYPE_NULL, functools.partial(pt.to_null, endian=">"),
                                             endian=">")),
    ("v4-loop", V4, as_pcap(pt.LINKTYPE_LOOP, pt.to_loop)),
    ("v4-linktype-ipv4", V4, as_pcap(pt.LINKTYPE_IPV4, pt.to_raw)),
    ("v4-ip-options", V4, as_pcap(E, pt.add_ipv4_options)),
    ("v4-bad-checksums", V4, as_pcap(E, bad_checksums)),
    ("v6-pcapng-ns", V6, as_pcapng(E, tsresol=9)),
    ("v6-pcapng-mixed-linktypes", V6, mixed_linktypes),
    ("v6-pcapng-two-sections", V6, two_sections),
    ("v6-raw", V6, as_pcap(pt.LINKTYPE_RAW, pt.to_raw)),
    ("v6-sll", V6, as_pcap(pt.LINKTYPE_LINUX_SLL, pt.to_sll)),
    ("v6-sll2", V6, as_pcap(pt.LINKTYPE_LINUX_SLL2, pt.to_sll2)),
    ("v6-vlan", V6, as_pcap(E, pt.to_vlan)),
    ("v6-qinq", V6, as_pcap(E, pt.to_qinq)),
    ("v6-null-10", V6, as_pcap(pt.LINKTYPE_NULL, functools.partial(pt.to_null, af6=10, endian="="))),
    ("v6-null-24", V6, as_pcap(pt.LINKTYPE_NULL, functools.partial(pt.to_null, af6=24, endian="="))),
    ("v6-null-28", V6, as_pcap(pt.LINKTYPE_NULL, functools.partial(pt.to_null, af6=28, endian="="))),
    ("v6-null-30", V6, as_pcap(pt.LINKTYPE_NULL, functools.partial(pt.to_null, af6=30, endian="="))),
    ("v6-null-big-endian-file", V6, as_pcap(pt.LINKTYPE_NULL,
                                            functools.partial(pt.to_null, af6=30, endian=">"),
                                            endian=">")),
    ("v6-loop-24", V6, as_pcap(pt.LINKTYPE_LOOP, functools.partial(pt.to_loop, af6=24))),
    ("v6-loop-30", V6, as_pcap(pt.LINKTYPE_LOOP, functools.partial(pt.to_loop, af6=30))),
    ("v6-linktype-ipv6", V6, as_pcap(pt.LINKTYPE_IPV6, pt.to_raw)),
    ("v6-extension-headers", V6, as_pcap(E, pt.add_ipv6_ext)),
]
for _name, _src, _build in FORMATS:
    format_case(_name, _src, _build)


# ---- 8. options ----

@case("count")
def _():
    r = run_ok(["-r", pcap("helo-plain"), "-c", "5"])
    events = parse(r.out)
    st = stats_of(events)
    check(st["packets"] == 5, "stats.packets %s, expected 5" % st["packets"])
    check(st["events"] == len(events) == 2, "expected 2 events, got %d" % len(events))
    s = only_session(events)
    check(s["smtp"]["close"] == "eof" and s["pcap_cnt"] == 5,
          "session close %r at packet %r" % (s["smtp"]["close"], s["pcap_cnt"]))
    r = run_ok(["-r", pcap("helo-plain"), "--count", "1000"])
    check(r.out == reference("helo-plain"), "-c beyond the end changes the output")


@case("ports-2525")
def _():
    r = run_ok(["-r", pcap("helo-plain"), "--ports", "2525"])
    events = parse(r.out)
    check(len(events) == 1, "expected only the stats event, got %d events" % len(events))
    st = stats_of(events)
    n = len(capture("helo-plain").packets)
    check(st["sessions"] == 0 and st["tcp_packets"] == 0 and st["packets"] == n,
          "stats sessions %s tcp_packets %s packets %s" % (st["sessions"], st["tcp_packets"], st["packets"]))
    r = run_ok(["-r", pcap("helo-plain"), "--ports", "2525,25"])
    check(r.out == reference("helo-plain"), "--ports 2525,25 differs from the default")


@case("filter-port-9")
def _():
    events = parse(run_ok(["-r", pcap("helo-plain"), "port 9"]).out)
    check(len(events) == 1, "expected only the stats event, got %d events" % len(events))
    st = stats_of(events)
    check(st["sessions"] == 0 and st["packets"] == 0,
          "stats sessions %s packets %s" % (st["sessions"], st["packets"]))


@case("filter-host")
def _():
    out = run_ok(["-r", pcap("helo-plain"), "host 127.0.0.1"]).out
    check(out == reference("helo-plain"), "'host 127.0.0.1' differs from no filter")
    out = run_ok(["-r", pcap("helo-plain"), "host", "127.0.0.1", "and", "tcp"]).out
    check(out == reference("helo-plain"), "filter words in several arguments differ from no filter")
    out = run_ok(["-r", pcap("ipv6"), "ip6"]).out
    check(out == reference("ipv6"), "'ip6' on the IPv6 capture differs from no filter")


@case("filter-anded-with-smtp-ports")
def _():
    """--help: 'A trailing BPF expression is ANDed with the SMTP ports.'"""
    cap = capture("helo-plain")
    other = [p.replace(pt.rewrite_port(p.data, 25, 80)) for p in cap.packets]
    merged = sorted(cap.packets + other, key=lambda p: p.ts_us)
    path = write("with-port-80.pcap", pt.pcap_bytes(E, merged))
    events = parse(run_ok(["-r", path, "host 127.0.0.1"]).out)
    st = stats_of(events)
    check(len(sessions(events)) == 1, "expected 1 session")
    check(st["packets"] == len(cap.packets) and st["bytes"] == total(cap.packets),
          "with the filter 'host 127.0.0.1', stats.packets is %s (bytes %s); ANDed with the "
          "SMTP ports only the %d port-25 packets (%d bytes) pass"
          % (st["packets"], st["bytes"], len(cap.packets), total(cap.packets)))


@case("output-file-appends")
def _():
    path = tmp("events.json")
    ref = reference("helo-plain")
    for n in (1, 2):
        r = run_ok(["-r", pcap("helo-plain"), "-o", path])
        check(r.out == b"", "-o FILE also wrote to stdout")
        with open(path, "rb") as f:
            content = f.read()
        check(content == ref * n, "after run %d the file holds %d lines, expected %d"
              % (n, content.count(b"\n"), ref.count(b"\n") * n))


@case("output-dash-is-stdout")
def _():
    check(run_ok(["-r", pcap("helo-plain"), "-o", "-"]).out == reference("helo-plain"),
          "-o - differs from the default output")


def check_transcript(text):
    lines = text.splitlines()
    check(lines and re.fullmatch(r"=== session 1  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0000  "
                                 r"127\.0\.0\.1:\d+ -> 127\.0\.0\.1:25 ===", lines[0]),
          "transcript starts with %r" % (lines[:1],))
    for line in lines:
        check(not line.startswith("{"), "JSON in the transcript: %r" % line[:80])
    replies = [int(x[5:8]) for x in lines if x[2:5] == "S: "]
    check(replies == [220, 250, 250, 250, 354, 250, 221], "server replies %r" % replies)
    check(any(re.fullmatch(r"--- end: quit, duration \d+\.\d{6} s, 1 message\(s\), 0 error replies ---", x)
              for x in lines), "no end line")
    check("  C: [message: 283 bytes, Subject: Plain HELO test]" in lines, "no message line")


@case("transcript")
def _():
    r = run_ok(["-r", pcap("helo-plain"), "-T"])
    check_transcript(r.out.decode())


@case("transcript-with-output")
def _():
    path = tmp("t-events.json")
    r = run_ok(["-r", pcap("helo-plain"), "-T", "-o", path])
    check(r.out == run_ok(["-r", pcap("helo-plain"), "-T"]).out, "-T -o FILE changes the transcript")
    with open(path, "rb") as f:
        check(f.read() == reference("helo-plain"), "-T -o FILE: the file differs from the JSON output")


@case("commands")
def _():
    events = parse(reference("helo-plain", "--commands"))
    cmds = of_type(events, "smtp_command")
    got = [(c["smtp"]["command"], c["smtp"]["reply"]["code"]) for c in cmds]
    want = [("<greeting>", 220), ("HELO", 250), ("MAIL", 250), ("RCPT", 250), ("DATA", 354),
            ("<message>", 250), ("QUIT", 221)]
    check(got == want, "helo-plain command/reply pairs %r" % got)
    for name in BUNDLED:
        with_c = parse(reference(name, "--commands"))
        without = parse(reference(name))
        cmds = of_type(with_c, "smtp_command")
        replies = sum(sum(s["smtp"]["replies"].values()) for s in sessions(with_c))
        check(len(cmds) == replies, "%s: %d smtp_command events for %d replies"
              % (name, len(cmds), replies))
        check(all("reply" in c["smtp"] for c in cmds), "%s: a command event without a reply" % name)
        check(not of_type(without, "smtp_command"), "%s: smtp_command without --commands" % name)
        rest = [e for e in with_c[:-1] if e["event_type"] != "smtp_command"]
        check(rest == without[:-1], "%s: the other events change with --commands" % name)
        sa, sb = dict(stats_of(with_c)), dict(stats_of(without))
        check(sa.pop("events") == sb.pop("events") + len(cmds) and sa == sb,
              "%s: stats differ beyond the event count" % name)


@case("list-interfaces")
def _():
    r = run(["-D"])
    if r.rc != 0 and re.search(r"(?i)permission|not permitted", r.err):
        raise Skip("cannot list interfaces here: %s" % r.err.strip()[:100])
    check(r.rc == 0 and r.err == "", "-D: %s" % r.brief())
    lines = r.out.decode().splitlines()
    for i, line in enumerate(lines, 1):
        check(re.fullmatch(r"%d\.\S+( \(.+\))?" % i, line), "-D line %r" % line)
    check(any(re.fullmatch(r"\d+\.lo( \(.+\))?", x) for x in lines), "-D does not list lo: %r" % lines)


@case("max-sessions-1")
def _():
    for name in ("helo-plain", "ipv6"):
        out = run_ok(["-r", pcap(name), "--commands", "--max-sessions", "1"]).out
        check(out == reference(name, "--commands"), "%s: --max-sessions 1 changes the output" % name)


@case("snaplen-ignored-for-files")
def _():
    out = run_ok(["-r", pcap("helo-plain"), "-s", "64"]).out
    check(out == reference("helo-plain"), "-s 64 changes the output of a file")


# ---- running as a sensor: rotation, stats on demand, privileges ----

def piped_run(args, split, between, stderr_ok=False):
    """Run on a crafted 3-session capture fed through a pipe in two parts;
    between(proc) runs after the first part was read."""
    cap = pt.read_pcap(str(ROOT / "pcaps/crafted/auth-bruteforce.pcap"))
    first = pt.pcap_bytes(E, cap.packets[:split])
    rest = pt.pcap_bytes(E, cap.packets[split:])[24:]
    proc = subprocess.Popen([BIN, "-r", "-"] + args, cwd=ROOT, env=ENV,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdin.write(first)
    proc.stdin.flush()
    # wait until the tool has read the first part from the pipe
    wait_pipe_read(proc)
    time.sleep(0.5)
    between(proc)
    time.sleep(0.5)
    out, err = proc.communicate(rest, timeout=RUN_TIMEOUT)
    err = err.decode("utf-8", "replace")
    sanitizer_check(proc.returncode, err)
    check(proc.returncode == 0 and (err == "" or stderr_ok),
          "exit %s, stderr %r" % (proc.returncode, err[:200]))
    return out


@case("sighup-reopens-output")
def _():
    path = tmp("rotate.json")
    total = parse(run_ok(["-r", "pcaps/crafted/auth-bruteforce.pcap"]).out)

    def rotate(proc):
        os.rename(path, path + ".1")   # what logrotate does, then SIGHUP
        proc.send_signal(signal.SIGHUP)

    piped_run(["-o", path], 40, rotate)
    old = parse(open(path + ".1", "rb").read())
    new = parse(open(path, "rb").read())
    # no line lost, none split: every event is in one file or the other
    check(len(old) + len(new) == len(total) and old and new,
          "%d + %d events after rotation, %d without" % (len(old), len(new), len(total)))
    check([e["event_type"] for e in old + new] == [e["event_type"] for e in total],
          "the events differ from a run without rotation")


@case("sighup-reopens-file-sinks")
def _():
    a, b = tmp("rot-a.json"), tmp("rot-b.json")

    def rotate(proc):
        os.rename(a, a + ".1")
        os.rename(b, b + ".1")
        proc.send_signal(signal.SIGHUP)

    total = len(parse(run_ok(["-r", "pcaps/crafted/auth-bruteforce.pcap"]).out))
    piped_run(["-o", a, "-o", "file:" + b], 40, rotate)
    for path in (a, b):
        old = parse(open(path + ".1", "rb").read())
        new = parse(open(path, "rb").read())
        check(old and new and len(old) + len(new) == total,
              "%s: %d + %d events" % (os.path.basename(path), len(old), len(new)))
    check(open(a, "rb").read() == open(b, "rb").read(), "the two files differ")


@case("sigusr1-writes-stats")
def _():
    out = piped_run([], 40, lambda proc: proc.send_signal(signal.SIGUSR1))
    stats = [e for e in parse(out) if e["event_type"] == "stats"]
    # handled at the next packet: the 41st
    check(len(stats) == 2 and stats[0]["stats"]["packets"] == 41 and
          stats[1]["stats"]["packets"] == 96, "stats events %r" % [s["stats"]["packets"] for s in stats])


@case("stats-interval")
def _():
    events = parse(run_ok(["-r", pcap("errors-421"), "--stats-interval", "1"]).out)
    stats = [e for e in events if e["event_type"] == "stats"]
    # the capture spans 2.5 s of packet time: two periodic, one final
    check(len(stats) == 3 and stats[-1]["stats"]["packets"] == 29,
          "%d stats events" % len(stats))


@case("idle-timeout")
def _():
    # helo-plain with 10 s of silence before its last 6 packets
    cap = capture("helo-plain")
    n = len(cap.packets)
    pkts = cap.packets[:n - 6] + [pt.Packet(p.ts_us + 10000000, p.wirelen, p.data)
                                  for p in cap.packets[n - 6:]]
    path = write("idle.pcap", pt.pcap_bytes(E, pkts))
    s = [e["smtp"] for e in sessions(parse(run_ok(["-r", path, "--idle-timeout", "5"]).out))]
    # the session ends as timeout; what follows is picked up mid-stream
    check(len(s) == 2 and s[0]["close"] == "timeout" and s[1].get("midstream") is True,
          "sessions %r" % [(x["close"], x.get("midstream")) for x in s])
    s = [e["smtp"] for e in sessions(parse(run_ok(["-r", path]).out))]
    check(len(s) == 1 and s[0]["close"] == "quit", "default 300 s: %r" % s)


@case("output-sockets")
def _():
    """Events to a unix datagram socket, a unix stream and syslog (RFC 5424
    over a datagram socket the test owns), all at once."""
    ref = reference("two-messages").decode().splitlines()
    paths = {k: tmp("sock-" + k) for k in ("dgram", "stream", "log")}
    d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    d.bind(paths["dgram"])
    lg = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    lg.bind(paths["log"])
    st = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    st.bind(paths["stream"])
    st.listen(1)
    got = []

    def accept():
        c, _ = st.accept()
        data = b""
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
        got.append(data)

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    r = run_ok(["-r", pcap("two-messages"), "-o", "unix:" + paths["dgram"],
                "-o", "unix-stream:" + paths["stream"], "-o", "syslog:mail@" + paths["log"]])
    t.join(10)
    check(r.out == b"", "stdout should be empty when only sockets are given")

    def drain(sock):
        sock.setblocking(False)
        out = []
        while True:
            try:
                out.append(sock.recv(65536).decode())
            except BlockingIOError:
                return out
    dgrams, logs = drain(d), drain(lg)
    for sock in (d, lg, st):
        sock.close()
    # the stats event differs (output_dropped is 0 either way): compare the rest
    check(dgrams[:-1] == ref[:-1], "datagrams differ from the file output")
    check(got and got[0].decode().splitlines()[:-1] == ref[:-1], "stream lines differ")
    head = re.compile(r"<22>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \S+ smtpscope \d+ - - ")
    check(len(logs) == len(ref) and all(head.match(m) for m in logs) and
          [head.sub("", m, 1) for m in logs][:-1] == ref[:-1],
          "syslog messages %r" % logs[:1])


@case("output-socket-down")
def _():
    path = tmp("nobody-listens")
    r = run(["-r", pcap("two-messages"), "-o", "-", "-o", "unix:" + path])
    check(r.rc == 0, "exit %s" % r.brief())
    # the warning, and the stats event itself, dropped after it was made
    check(len(r.err_lines) == 2 and "events dropped (and counted)" in r.err_lines[0] and
          r.err_lines[1] == "smtpscope: output %s: 1 event not delivered at exit" % path,
          "stderr %r" % r.err[:300])
    events = parse(r.out)
    # every event before the stats event was dropped by the dead sink
    check(stats_of(events)["output_dropped"] == len(events) - 1,
          "output_dropped %r" % stats_of(events)["output_dropped"])
    expect_error(run(["-r", pcap("two-messages"), "-o", "syslog:nosuch"]), 2,
                 r"smtpscope: -o syslog:nosuch: unknown syslog facility")
    expect_error(run(["-r", pcap("two-messages"), "-o", "kafka://broker"]), 2,
                 r"smtpscope: -o kafka://broker: expected kafka://BROKERS/TOPIC")


@case("output-file-disk-full")
def _():
    """A file on a full disk (/dev/full: every write fails with ENOSPC),
    first or not: one warning, every lost event counted, the other outputs
    get every event, the capture goes on; exit 1, as for any file or
    stdout that lost events."""
    if not os.path.exists("/dev/full"):
        raise Skip("no /dev/full")
    ref = reference("crafted/auth-bruteforce").decode().splitlines()
    beside = tmp("beside-full.json")
    for first in (False, True):
        outs = ["-o", "/dev/full", "-o", "-"] if first else ["-o", "-", "-o", "file:/dev/full"]
        r = run(["-r", pcap("crafted/auth-bruteforce")] + outs + ["-o", "file:" + beside])
        what = "/dev/full first" if first else "/dev/full second"
        check(r.rc == 1, "%s: %s" % (what, r.brief()))
        check(r.err_lines == [FULL_WARNING % "/dev/full"], "%s: stderr %r" % (what, r.err[:300]))
        events = parse(r.out)
        # every event before the stats event was lost on the full disk
        check(stats_of(events)["output_dropped"] == len(events) - 1 == len(ref) - 1,
              "%s: output_dropped %r of %d events"
              % (what, stats_of(events)["output_dropped"], len(events)))
        check(r.out.decode().splitlines()[:-1] == ref[:-1], "%s: stdout differs" % what)
        check(open(beside, "rb").read() == r.out, "%s: the other file differs from stdout" % what)
        os.unlink(beside)
    r = run(["-r", pcap("crafted/auth-bruteforce"), "-o", "file:/dev/full", "-o", beside])
    expect_error(r, 1, re.escape(FULL_WARNING % "/dev/full"))
    got = open(beside, "rb").read().decode().splitlines()
    check(len(got) == len(ref) and got[:-1] == ref[:-1], "the file sink has %d of %d events"
          % (len(got), len(ref)))
    check(json.loads(got[-1])["stats"]["output_dropped"] == len(ref) - 1,
          "output_dropped %r" % json.loads(got[-1])["stats"]["output_dropped"])


def redis_server():
    """A redis-server of our own on a free loopback port, or Skip."""
    exe = shutil.which("redis-server")
    if not exe:
        raise Skip("redis-server not installed (tools/deps.sh installs it)")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise Fail("redis-server did not start")


def resp(port, *args):
    """One command in RESP, its reply parsed (integers, bulk strings, arrays)."""
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"*%d\r\n" % len(args) + b"".join(
        b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() for x in args)))
    f = c.makefile("rb")

    def read():
        line = f.readline()
        if line[:1] == b":":
            return int(line[1:])
        if line[:1] == b"$":
            n = int(line[1:])
            return None if n < 0 else f.read(n + 2)[:-2].decode()
        if line[:1] == b"*":
            return [read() for _ in range(int(line[1:]))]
        return line.decode().strip()
    r = read()
    c.close()
    return r


@case("output-redis")
def _():
    proc, port = redis_server()
    try:
        ref = reference("two-messages").decode().splitlines()
        run_ok(["-r", pcap("two-messages"), "-o", "redis://127.0.0.1:%d/smtpscope" % port])
        got = resp(port, "LRANGE", "smtpscope", "0", "-1")
        check(got[:-1] == ref[:-1] and len(got) == len(ref), "RPUSH list: %d items" % len(got))
        # channel mode: a subscriber of our own sees every event
        sub = socket.create_connection(("127.0.0.1", port), timeout=10)
        sub.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$5\r\nevent\r\n")
        f = sub.makefile("rb")
        for _ in range(6):   # *3 $9 subscribe $5 event :1
            f.readline()
        run_ok(["-r", pcap("two-messages"), "-o",
                "redis://127.0.0.1:%d/event?mode=channel" % port])
        msgs = []
        while len(msgs) < len(ref):
            for _ in range(6):   # *3 $7 message $5 event $N
                f.readline()
            msgs.append(f.readline().decode().rstrip("\r\n"))
        sub.close()
        check(msgs[:-1] == ref[:-1], "PUBLISH channel: %d messages" % len(msgs))
        expect_error(run(["-r", pcap("two-messages"), "-o", "redis://127.0.0.1/"]), 2,
                     r"smtpscope: -o redis://127\.0\.0\.1/: expected "
                     r"redis://HOST\[:PORT\]/KEY\[\?mode=list\|channel\]")
    finally:
        proc.kill()
        proc.wait()


@case("output-redis-reconnect")
def _():
    """redis goes away mid-run and comes back on the same port: the events
    in between are dropped and counted, those after it arrive."""
    proc, port = redis_server()
    cap = pt.read_pcap(str(ROOT / "pcaps/crafted/auth-bruteforce.pcap"))
    parts = [pt.pcap_bytes(E, cap.packets[:40]),
             pt.pcap_bytes(E, cap.packets[40:70])[24:],
             pt.pcap_bytes(E, cap.packets[70:])[24:]]
    tool = subprocess.Popen([BIN, "-r", "-", "-o", "-", "-o", "redis://127.0.0.1:%d/r" % port],
                            cwd=ROOT, env=ENV, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    exe = shutil.which("redis-server")
    again = None
    try:
        tool.stdin.write(parts[0])
        tool.stdin.flush()
        time.sleep(1.0)
        first = resp(port, "LLEN", "r")
        proc.kill()
        proc.wait()
        tool.stdin.write(parts[1])
        tool.stdin.flush()
        time.sleep(1.0)
        again = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        time.sleep(1.5)   # up, and past the once-a-second retry
        out, err = tool.communicate(parts[2], timeout=RUN_TIMEOUT)
        time.sleep(0.3)
        after = resp(port, "LLEN", "r")
    finally:
        for p in (tool, proc, again):
            if p and p.poll() is None:
                p.kill()
                p.wait()
    err = err.decode("utf-8", "replace")
    sanitizer_check(tool.returncode, err)
    st = stats_of(parse(out))
    check(tool.returncode == 0, "exit %s" % tool.returncode)
    check(first > 0 and after > 0 and st["output_dropped"] > 0,
          "before the kill %r, after the restart %r, dropped %r" %
          (first, after, st["output_dropped"]))


@case("output-redis-killed")
def _():
    proc, port = redis_server()
    try:
        out = piped_run(["-o", "-", "-o", "redis://127.0.0.1:%d/k" % port], 40,
                        lambda p: (proc.kill(), proc.wait()), stderr_ok=True)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    events = parse(out)
    st = stats_of(events)
    # the events after the kill are lost, counted; no crash, exit 0
    check(st["output_dropped"] > 0 and st["packets"] == 96,
          "output_dropped %r" % st["output_dropped"])


def repeated(first, n):
    """errors-421 (one session, 14 events of about 620 bytes) n times over,
    client ports 20000 + first.., one second apart: packets."""
    cap = capture("errors-421")
    cport, _ = flow_ports("errors-421")
    pkts = []
    for i in range(first, first + n):
        pkts += [pt.Packet(p.ts_us + i * 1000000, p.wirelen,
                           pt.rewrite_port(p.data, cport, 20000 + i)) for p in cap.packets]
    return pkts


def stalled_run(sink, phases, between):
    """-r - with a file and one socket sink; the capture comes in parts,
    between(i, proc) after part i was read. Returns the file's lines."""
    out = tmp("stalled-%s.json" % sink.split(":")[0])
    tool = subprocess.Popen([BIN, "-r", "-", "-o", out, "-o", sink], cwd=ROOT, env=ENV,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        for i, part in enumerate(phases[:-1]):
            tool.stdin.write(pt.pcap_bytes(E, part)[24 if i else 0:])
            tool.stdin.flush()
            wait_pipe_read(tool, 60)
            time.sleep(1.0)   # its events are written (or dropped)
            between(i, tool)
        _, err = tool.communicate(pt.pcap_bytes(E, phases[-1])[24:], timeout=RUN_TIMEOUT)
    finally:
        if tool.poll() is None:
            tool.kill()
            tool.wait()
    err = err.decode("utf-8", "replace")
    sanitizer_check(tool.returncode, err)
    check(tool.returncode == 0 and err == "", "exit %s, stderr %r" % (tool.returncode, err[:300]))
    return open(out, "rb").read().decode().splitlines()


def check_stall(lines, got, tail):
    """What the sink got: the file's lines but the dropped ones, in order,
    and all of the last tail (written once the reader was back)."""
    dropped = json.loads(lines[-1])["stats"]["output_dropped"]
    check(dropped > 0, "nothing was dropped: the stall did not fill the queue")
    check(len(got) == len(lines) - dropped, "%d events arrived, %d written, %d dropped"
          % (len(got), len(lines), dropped))
    check(got[-tail:] == lines[-tail:], "the events after the stall did not all arrive")
    it = iter(lines)
    check(all(g in it for g in got), "the events arrived out of order or changed")


@case("output-stream-stall")
def _():
    """A unix-stream reader stops reading while 2.6 MB of events are
    written (more than the 1 MB queue and the socket hold), then reads
    again: the events after it is back all arrive, and output_dropped is
    exactly what it did not get."""
    path = tmp("stall-stream")
    st = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    st.bind(path)
    st.listen(1)
    go, got = threading.Event(), []

    def reader():
        c, _ = st.accept()
        go.wait()
        data = b""
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
        got.append(data)
        c.close()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        lines = stalled_run("unix-stream:" + path, [repeated(0, 300), repeated(300, 10)],
                            lambda i, tool: (go.set(), time.sleep(0.5)))
        t.join(10)
    finally:
        go.set()
        st.close()
    check(got and got[0].endswith(b"\n"), "the stream does not end with a whole line")
    check_stall(lines, got[0].decode().splitlines(), 10 * 14 + 1)


@case("output-redis-stall")
def _():
    """redis stops (SIGSTOP) while 9 MB of events are written (more than
    the 1 MB buffer and TCP hold), then goes on (SIGCONT): the events after
    it all arrive, and output_dropped is exactly what it did not get."""
    proc, port = redis_server()

    def between(i, tool):
        if i == 0:
            deadline = time.time() + 10
            while resp(port, "LLEN", "st") == 0 and time.time() < deadline:
                time.sleep(0.05)   # connected, and taking events
            proc.send_signal(signal.SIGSTOP)
        else:
            proc.send_signal(signal.SIGCONT)
            time.sleep(1.0)   # redis works through what TCP held

    try:
        lines = stalled_run("redis://127.0.0.1:%d/st" % port,
                            [repeated(0, 1), repeated(1, 1050), repeated(1051, 10)], between)
        got = resp(port, "LRANGE", "st", "0", "-1")
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait()
    check_stall(lines, got, 10 * 14 + 1)


@case("output-stream-stalled-at-exit")
def _():
    """SIGTERM while a unix-stream reader is connected but not reading: the
    exit waits 2 s at most, and what was not sent is counted: on stderr
    what the stats event cannot show (what is dropped after it is made)."""
    path, out = tmp("stuck-stream"), tmp("stuck.json")
    st = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    st.bind(path)
    st.listen(1)
    tool = subprocess.Popen([BIN, "-r", "-", "-o", out, "-o", "unix-stream:" + path],
                            cwd=ROOT, env=ENV, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        c, _ = st.accept()
        tool.stdin.write(pt.pcap_bytes(E, repeated(0, 300)))
        tool.stdin.flush()
        wait_pipe_read(tool, 60)
        time.sleep(1.0)
        start = time.time()
        tool.send_signal(signal.SIGTERM)
        rc = tool.wait(timeout=RUN_TIMEOUT)
        took = time.time() - start
        err = tool.stderr.read().decode("utf-8", "replace")
        c.setblocking(False)
        data = b""
        while True:
            try:
                b = c.recv(65536)
            except BlockingIOError:
                break
            if not b:
                break
            data += b
        c.close()
    finally:
        if tool.poll() is None:
            tool.kill()
            tool.wait()
        tool.stdin.close()
        tool.stderr.close()
        st.close()
    sanitizer_check(rc, err)
    check(rc == 0, "exit %s, stderr %r" % (rc, err[:300]))
    check(took < 3.5, "the exit took %.1f s" % took)
    m = re.fullmatch(r"smtpscope: output %s: (\d+) events not delivered at exit\n"
                     % re.escape(path), err)
    check(m and int(m.group(1)) > 0, "stderr %r" % err[:300])
    lines = open(out, "rb").read().decode().splitlines()
    dropped = json.loads(lines[-1])["stats"]["output_dropped"]
    arrived = data.count(b"\n")
    check(arrived + dropped + int(m.group(1)) == len(lines),
          "%d arrived + %d dropped + %s not delivered at exit, of %d events"
          % (arrived, dropped, m.group(1), len(lines)))


@case("config-file")
def _():
    out1, out2 = tmp("conf-out.json"), tmp("cli-out.json")
    conf = write("smtpscope.conf", (
        "# a sensor's settings\n"
        "interface nosuchif9\n"
        "ports 25,587\n"
        "output %s\n"
        "commands\n"
        "filter host 127.0.0.1\n" % out1).encode())
    # the file's options apply; -r on the command line replaces its interface
    run_ok(["-C", conf, "-r", pcap("helo-plain")])
    events = parse(open(out1, "rb").read())
    check(len(of_type(events, "smtp_command")) == 7 and stats_of(events)["sessions"] == 1,
          "with -C: %d events" % len(events))
    # and -o on the command line replaces its output
    run_ok(["-C", conf, "-r", pcap("helo-plain"), "-o", out2])
    check(len(parse(open(out1, "rb").read())) == len(events), "the file's -o was written again")
    check(len(parse(open(out2, "rb").read())) == len(events), "the command line's -o")
    # a filter given on the command line wins over the file's
    run_ok(["-C", conf, "-r", pcap("helo-plain"), "-o", out2, "port", "9"])
    check(stats_of(parse(open(out2, "rb").read().splitlines(True)[-1]))["sessions"] == 0,
          "the command line's filter")
    bad = write("bad.conf", b"no-such-option 1\n")
    r = run(["-C", bad, "-r", pcap("helo-plain")])
    check(r.rc == 2, "unknown option in the file: %s" % r.brief())
    expect_error(run(["-C", tmp("missing.conf"), "-r", pcap("helo-plain")]), 1,
                 r"smtpscope: -C .*missing\.conf: No such file or directory")


@case("drop-privileges")
def _():
    if not is_root():
        raise Skip("not root")
    r = run_ok(["-r", pcap("helo-plain"), "-Z", "nobody"])
    check(r.out == reference("helo-plain"), "-Z nobody changes the output")
    expect_error(run(["-r", pcap("helo-plain"), "-Z", "no-such-user-x"]), 1,
                 r"smtpscope: -Z no-such-user-x: no such user")


# ---- --extract: messages written as files ----

def client_bodies(name):
    """The DATA bodies a client sent in a bundled capture, unstuffed, read
    straight from the packets (independent of the tool)."""
    stream = b""
    for p in capture(name).packets:
        where = pt.tcp_offset(p.data)
        if not where:
            continue
        _, t, _ = where
        sport, dport = pt.ports(p.data)
        if dport in (25, 587):
            stream += p.data[t + (p.data[t + 12] >> 4) * 4:]
    bodies, rest = [], stream
    while True:
        i = rest.lower().find(b"\r\ndata\r\n")
        if i < 0:
            break
        rest = rest[i + 8:]
        end = rest.find(b"\r\n.\r\n")
        body = rest[:end + 2] if end >= 0 else rest
        if body.startswith(b".."):
            body = body[1:]
        bodies.append(body.replace(b"\r\n..", b"\r\n."))
        rest = rest[end + 3:] if end >= 0 else b""
    return bodies


@case("extract-eml")
def _():
    out = tmp("extract")
    os.mkdir(out)
    events = parse(run_ok(["-r", pcap("two-messages"), "--extract", out]).out)
    txns = of_type(events, "smtp_transaction")
    # named by the flow_id of the events: a later run does not overwrite
    names = ["%d-%d.eml" % (t["flow_id"], t["smtp"]["transaction"]) for t in txns]
    check(sorted(os.listdir(out)) == sorted(names), "files %r, expected %r"
          % (os.listdir(out), names))
    sent = client_bodies("two-messages")
    check(len(sent) == 2, "found %d bodies in the capture" % len(sent))
    for name, t, body in zip(names, txns, sent):
        data = open(os.path.join(out, name), "rb").read()
        # byte-identical to what the client sent, dot-unstuffed
        check(data == body, "%s differs from the body in the capture" % name)
        check(hashlib.sha256(data).hexdigest() == t["smtp"]["sha256"] and
              len(data) == t["smtp"]["size"], "%s: size/sha256 differ from the event" % name)
    check(stats_of(events)["extracted_files"] == 2, "stats.extracted_files")
    # another capture into the same directory: its session 1 is another file
    events2 = parse(run_ok(["-r", pcap("helo-plain"), "--extract", out]).out)
    t2 = of_type(events2, "smtp_transaction")[0]
    check(sorted(os.listdir(out)) == sorted(names + ["%d-1.eml" % t2["flow_id"]]),
          "after a second run: files %r" % os.listdir(out))
    # a message cut by the client's close is kept, but never as .eml
    out2 = tmp("extract-partial")
    os.mkdir(out2)
    events = parse(run_ok(["-r", pcap("mid-data-close"), "--extract", out2]).out)
    flow = of_type(events, "smtp_session")[0]["flow_id"]
    check(os.listdir(out2) == ["%d-1.eml.partial" % flow], "files %r" % os.listdir(out2))


@case("extract-bad-dir")
def _():
    path = tmp("no-such-dir")
    expect_error(run(["-r", pcap("helo-plain"), "--extract", path]), 1,
                 r"smtpscope: --extract %s: No such file or directory" % re.escape(path))


@case("extract-attachments-needs-extract-and-parser")
def _():
    expect_error(run(["-r", pcap("mime-attachments"), "--extract-attachments"]), 2,
                 r"smtpscope: --extract-attachments needs --extract DIR")
    out = tmp("extract-noemail")
    os.makedirs(out, exist_ok=True)
    expect_error(run(["-r", pcap("mime-attachments"), "--extract", out,
                      "--extract-attachments", "--no-email"]), 2,
                 r"smtpscope: --extract-attachments needs the message parser: drop --no-email")
    check(os.listdir(out) == [], "nothing written when the options are refused")


# ---- AUTH brute force across sessions ----

@case("auth-bruteforce-across-sessions")
def _():
    # the recorded session (2 failed AUTH LOGIN) replayed from a second
    # client port a minute later: 4 failures from one address, 2 sessions
    cap = capture("auth-login-fail")
    cport = [pt.ports(p.data)[0] for p in cap.packets if pt.ports(p.data)[1] == 587][0]
    second = [pt.Packet(p.ts_us + 60000000, p.wirelen,
                        pt.rewrite_port(p.data, cport, cport + 1)) for p in cap.packets]
    path = write("brute.pcap", pt.pcap_bytes(E, cap.packets + second))

    def brute(args):
        events = parse(run_ok(["-r", path] + args).out)
        return [e["smtp"]["alert"]["detail"] for e in of_type(events, "smtp_alert")
                if e["smtp"]["alert"]["kind"] == "auth_bruteforce"]

    got = brute(["--auth-failures", "3"])
    check(got == ["3 failed AUTH attempts from 127.0.0.1 in 2 sessions within the window"],
          "auth_bruteforce with 3 failures: %r" % got)
    # a window shorter than the minute between the sessions: no alarm
    got = brute(["--auth-failures", "3", "--auth-window", "30"])
    check(got == [], "auth_bruteforce with a 30 s window: %r" % got)
    # limit 2: each session reaches it alone, and the first failure of
    # the second session makes 2 from the address across the sessions
    got = brute(["--auth-failures", "2"])
    check(got == ["2 failed AUTH attempts in this session",
                  "2 failed AUTH attempts from 127.0.0.1 in 2 sessions within the window",
                  "2 failed AUTH attempts in this session"],
          "auth_bruteforce with 2 failures: %r" % got)


@case("show-auth-user")
def _():
    events = parse(run_ok(["-r", pcap("auth-login-fail"), "--show-auth-user"]).out)
    auth = only_session(events)["smtp"]["auth"]
    check(auth == {"mechanism": "LOGIN", "result": "failure", "code": 535,
                   "user": "alice@example.test"}, "auth %r" % auth)
    out = run_ok(["-r", pcap("auth-login-fail")]).out
    check(b"alice" not in out, "the user name is logged without --show-auth-user")
    # the password never appears, in any mode
    for args in ([], ["--show-auth-user", "--commands"], ["-T"]):
        out = run_ok(["-r", pcap("auth-login-fail")] + args).out
        for secret in (b"wrong-password", b"still-wrong"):
            check(secret not in out and base64.b64encode(secret)[:12] not in out,
                  "the password %r is in the output of %r" % (secret, args))


# ---- 9. implicit TLS on port 465 ----

@case("implicit-tls-465")
def _():
    cap = capture("helo-plain")
    pkts = [p.replace(pt.rewrite_port(p.data, 25, 465)) for p in cap.packets]
    path = write("port465.pcap", pt.pcap_bytes(E, pkts))
    events = parse(run_ok(["-r", path, "--commands"]).out)
    kinds = [e["event_type"] for e in events]
    check(kinds == ["smtp_session", "stats"], "events %r, expected only smtp_session and stats" % kinds)
    s = events[0]
    plain = only_session(parse(reference("helo-plain")))["smtp"]
    check(s["dest_port"] == 465, "dest_port %r" % s["dest_port"])
    check(s["smtp"]["tls"] == {"offered": False, "requested": False, "accepted": True, "implicit": True},
          "tls %r" % s["smtp"]["tls"])
    check(list(s["smtp"]["tls"]) == ["offered", "requested", "accepted", "implicit"],
          "tls key order %r" % list(s["smtp"]["tls"]))
    check("banner" not in s["smtp"] and "helo" not in s["smtp"], "the TLS content was decoded")
    check(s["smtp"]["commands"] == 0 and s["smtp"]["transactions"] == 0
          and set(s["smtp"]["replies"].values()) == {0}, "commands or replies counted in TLS")
    check(s["smtp"]["bytes"] == plain["bytes"], "bytes %r, expected %r" % (s["smtp"]["bytes"], plain["bytes"]))
    check(s["smtp"]["close"] == "fin", "close %r, expected fin" % s["smtp"]["close"])
    check(stats_of(events)["sessions"] == 1, "stats.sessions != 1")
    r = run_ok(["-r", path, "--ports", "25"])
    check(stats_of(parse(r.out))["sessions"] == 0, "port 465 analysed though not in --ports")
    r = run_ok(["-r", path, "--ports", "465", "--commands"])
    check(parse(r.out) == events, "--ports 465 differs from the default ports")


# ---- robustness ----

@case("junk-packets")
def _():
    cap = capture("helo-plain")
    first = cap.packets[0]
    mac = b"\0" * 12
    udp = bytes([0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]) + \
        struct.pack("!HHHH", 1025, 25, 8, 0)
    v6udp = bytes([0x60, 0, 0, 0, 0, 8, 17, 64]) + b"\0" * 15 + b"\1" + b"\0" * 15 + b"\1" + \
        struct.pack("!HHHH", 1025, 25, 8, 0)
    junk_not_ip = [b"", b"\0" * 5, b"\0" * 13, mac + b"\x08\x06" + b"\0" * 28,
                   mac + b"\x81\x00\x00"]                       # runts, ARP, cut VLAN tag
    junk_ipv4 = [mac + b"\x08\x00",                              # no IP header at all
                 mac + b"\x08\x00" + b"\x45" + b"\0" * 9,        # IP header cut short
                 mac + b"\x08\x00" + udp,                        # UDP to port 25
                 mac + b"\x08\x00" + b"\x4f" + b"\0" * 8 + b"\x06" + b"\0" * 10]  # IHL past the end
    junk_ipv6 = [mac + b"\x86\xdd" + v6udp]                      # not TCP: not analysed
    junk = junk_not_ip + junk_ipv4 + junk_ipv6
    pkts = [pt.Packet(first.ts_us, len(d), d) for d in junk] + cap.packets
    path = write("junk.pcap", pt.pcap_bytes(E, pkts))
    r = run(["-r", path])
    check(r.rc == 0, r.brief())
    check(r.err_lines == ["smtpscope: warning: 1 IPv6 packets not analysed (not TCP, fragmented, "
                          "or with unknown extension headers)"], "stderr %r" % r.err[:300])
    got, ref = parse(r.out), parse(reference("helo-plain"))
    for e in ref[:-1]:
        e["pcap_cnt"] += len(junk)
    check(got[:-1] == ref[:-1], "the events change with junk packets before the session")
    st, rst = stats_of(got), stats_of(ref)
    want = dict(rst, packets=rst["packets"] + len(junk), bytes=rst["bytes"] + total(pkts[:len(junk)]),
                ipv4=rst["ipv4"] + len(junk_ipv4), ipv6=len(junk_ipv6), not_ip=len(junk_not_ip),
                ipv6_not_analysed=1)
    check(st == want, "stats %r, expected %r" % (st, want))


@case("snaplen-cut-warning")
def _():
    cap = capture("helo-plain")
    snap = 96
    pkts = [pt.Packet(p.ts_us, p.wirelen, p.data[:snap]) for p in cap.packets]
    ncut = sum(1 for p in cap.packets if len(p.data) > snap)
    path = write("snap96.pcap", pt.pcap_bytes(E, pkts, snaplen=snap))
    r = run(["-r", path])
    check(r.rc == 0, r.brief())
    check(r.err_lines[:1] == ["smtpscope: warning: %d packets were cut by the snapshot length; "
                              "their streams are incomplete" % ncut], "stderr %r" % r.err[:300])
    check(all(x.startswith("smtpscope: warning: ") for x in r.err_lines), "stderr %r" % r.err[:300])
    st = stats_of(parse(r.out))
    check(st["snaplen_cut"] == ncut and st["packets"] == len(pkts),
          "stats snaplen_cut %s packets %s" % (st["snaplen_cut"], st["packets"]))


# ---- live capture on lo (root only) ----

@case("live-capture-lo")
def _():
    if not is_root():
        raise Skip("not root")
    if not os.path.exists("/proc/net/packet"):
        raise Skip("no /proc/net/packet")
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port = srv.getsockname()[1]
    banner = b"220 live.test ESMTP\r\n"
    served = []

    def serve():
        try:
            srv.settimeout(15)
            c1, _ = srv.accept()
            with c1:
                c1.sendall(banner)
                f = c1.makefile("rb")
                for line in f:
                    if line.upper().startswith(b"QUIT"):
                        c1.sendall(b"221 2.0.0 Bye\r\n")
                        break
                    c1.sendall(b"250 live.test\r\n")
                f.close()
            c2, _ = srv.accept()
            with c2:
                c2.sendall(banner)
                c2.recv(100)   # until the client closes
            served.append(True)
        except OSError:
            pass

    proc = subprocess.Popen([BIN, "-i", "lo", "--commands", "--ports", str(port),
                             "tcp port %d" % port], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    thread = threading.Thread(target=serve, daemon=True)
    c2 = None
    try:
        deadline = time.time() + 10
        while proc.poll() is None and not packet_socket_open(proc.pid) and time.time() < deadline:
            time.sleep(0.05)
        if proc.poll() is not None:
            err = proc.stderr.read().decode("utf-8", "replace")
            sanitizer_check(proc.returncode, err)
            if re.search(r"permission denied|no such interface", err):
                raise Skip("cannot capture on lo here: %s" % err.strip()[:100])
            raise Fail("exited early: exit %s, stderr %r" % (proc.returncode, err[:200]))
        time.sleep(0.3)
        thread.start()
        c1 = socket.create_connection(("127.0.0.1", port), timeout=10)
        c1port = c1.getsockname()[1]
        f = c1.makefile("rb")
        f.readline()
        c1.sendall(b"EHLO client.test\r\n")
        f.readline()
        c1.sendall(b"QUIT\r\n")
        f.readline()
        f.read()           # the server closes: both FINs
        f.close()
        c1.close()
        c2 = socket.create_connection(("127.0.0.1", port), timeout=10)
        c2port = c2.getsockname()[1]
        c2.recv(100)
        # time for the capture to read the banner (sanitizers, busy CI)
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if c2:
            c2.close()
        srv.close()
        thread.join(5)
    err = err.decode("utf-8", "replace")
    sanitizer_check(proc.returncode, err)
    check(proc.returncode == 0 and err == "", "exit %s, stderr %r" % (proc.returncode, err[:200]))
    events = parse(out)
    check_envelope(events, "live")
    st = stats_of(events)
    # kernel_drops is not asserted: other traffic on lo is not ours to control
    check(st["sessions"] == 2, "stats.sessions %s, expected 2" % st["sessions"])
    ss = {e["src_port"]: e for e in sessions(events)}
    check(set(ss) == {c1port, c2port}, "sessions from ports %r, expected %r" % (sorted(ss), [c1port, c2port]))
    s1, s2 = ss[c1port]["smtp"], ss[c2port]["smtp"]
    check(s1["close"] == "quit" and s1.get("banner") == "live.test ESMTP" and s1.get("helo") == "client.test"
          and s1["commands"] == 2 and s1["replies"] == {"2xx": 3, "3xx": 0, "4xx": 0, "5xx": 0}
          and s1["bytes"] == {"client": 24, "server": len(banner) + 15 + 15},
          "first session %r" % s1)
    # the session open at SIGTERM ends as shutdown. Its banner is usually
    # decoded too, but on a loaded machine it was seen missing (the
    # packet not yet read when the stop came): not asserted, see notes
    check(s2["close"] == "shutdown" and s2["commands"] == 0 and
          s2["bytes"]["client"] == 0 and
          s2["bytes"]["server"] in (0, len(banner)) and
          (s2["bytes"]["server"] == 0 or s2.get("banner") == "live.test ESMTP"),
          "second session (open at SIGTERM) %r" % s2)
    cmds = [(e["src_port"], e["smtp"]["command"], e["smtp"]["reply"]["code"])
            for e in of_type(events, "smtp_command")]
    check(cmds[:3] == [(c1port, "<greeting>", 220), (c1port, "EHLO", 250),
                       (c1port, "QUIT", 221)] and
          cmds[3:] in ([], [(c2port, "<greeting>", 220)]), "smtp_command events %r" % cmds)


def live_start(port, args):
    """smtpscope -i lo on port (and nothing else); Skip where capture is
    not permitted. Returns the process once its packet socket is open."""
    if not is_root():
        raise Skip("not root")
    if not os.path.exists("/proc/net/packet"):
        raise Skip("no /proc/net/packet")
    proc = subprocess.Popen([BIN, "-i", "lo", "--ports", str(port)] + args +
                            ["tcp port %d" % port], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while proc.poll() is None and not packet_socket_open(proc.pid) and time.time() < deadline:
        time.sleep(0.05)
    if proc.poll() is not None:
        err = proc.stderr.read().decode("utf-8", "replace")
        proc.stdout.close()
        proc.stderr.close()
        sanitizer_check(proc.returncode, err)
        if re.search(r"permission denied|no such interface", err):
            raise Skip("cannot capture on lo here: %s" % err.strip()[:100])
        raise Fail("exited early: exit %s, stderr %r" % (proc.returncode, err[:200]))
    time.sleep(0.3)
    return proc


def live_stop(proc):
    """SIGTERM: must stop promptly, exit 0 and say nothing."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise Fail("still running 5 s after SIGTERM")
    err = err.decode("utf-8", "replace")
    sanitizer_check(proc.returncode, err)
    check(proc.returncode == 0 and err == "", "exit %s, stderr %r" % (proc.returncode, err[:200]))
    return out


def wait_events(path, pred, limit):
    """Poll path until pred(events) holds; the events then, or None."""
    deadline = time.time() + limit
    while True:
        try:
            with open(path, "rb") as f:
                data = f.read()
            events = parse(data[:data.rfind(b"\n") + 1])
        except (OSError, ValueError):
            events = []
        if pred(events):
            return events
        if time.time() > deadline:
            return None
        time.sleep(0.05)


def has_stats(events):
    return any(e["event_type"] == "stats" for e in events)


@case("live-idle-sigusr1")
def _():
    """No packet at all: SIGUSR1 still writes a stats event at once."""
    path = tmp("idle-usr1.json")
    proc = live_start(free_port(), ["-o", path])
    try:
        t0 = time.time()
        proc.send_signal(signal.SIGUSR1)
        events = wait_events(path, has_stats, 3)
        check(events is not None, "no stats event within 3 s of SIGUSR1")
        check(stats_of(events)["packets"] == 0 and TS_RE.match(events[0]["timestamp"]),
              "stats %r" % events[0])
        took = time.time() - t0
    finally:
        live_stop(proc)
    # the capture wakes every 0.5 s; the rest is slack for a loaded machine
    check(took < 2.5, "the stats event came %.1f s after SIGUSR1" % took)


@case("live-idle-sighup")
def _():
    """No packet at all: after a rotation, SIGHUP makes the new file at once."""
    path = tmp("idle-hup.json")
    proc = live_start(free_port(), ["-o", path])
    try:
        check(os.path.exists(path), "-o file not created at start")
        os.rename(path, path + ".1")
        proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 2
        while not os.path.exists(path) and time.time() < deadline:
            time.sleep(0.05)
        check(os.path.exists(path), "no new file within 2 s of SIGHUP")
    finally:
        live_stop(proc)
    # the final stats event goes to the new file, none to the old one
    check(has_stats(parse(open(path, "rb").read())) and
          open(path + ".1", "rb").read() == b"", "the final stats event is not in the new file")


@case("live-idle-stats-interval")
def _():
    """No packet at all: --stats-interval 1 still gives a stats event each second."""
    path = tmp("idle-interval.json")
    proc = live_start(free_port(), ["-o", path, "--stats-interval", "1"])
    try:
        events = wait_events(path, lambda ev: len(of_type(ev, "stats")) >= 3, 5)
        check(events is not None, "fewer than 3 stats events in 5 s")
    finally:
        live_stop(proc)
    ts = [time.mktime(time.strptime(e["timestamp"][:19], "%Y-%m-%dT%H:%M:%S")) +
          float(e["timestamp"][19:26]) for e in of_type(events, "stats")]
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    check(all(0.9 <= g <= 2.2 for g in gaps), "stats events %r s apart" % gaps)


@case("live-idle-timeout")
def _():
    """A session left idle with --idle-timeout 2 ends as timeout within a
    few seconds though no packet follows; a whole session before it is in
    the file within a second (packets delivered promptly, events flushed)."""
    path, port = tmp("idle-timeout.json"), free_port()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", port))
    srv.listen(4)
    banner = b"220 idle.test ESMTP\r\n"
    conns = []

    def serve():
        try:
            srv.settimeout(15)
            c1, _ = srv.accept()
            conns.append(c1)
            c1.sendall(banner)
            f = c1.makefile("rb")
            f.readline()
            c1.sendall(b"221 2.0.0 Bye\r\n")
            f.close()
            c1.close()
            c2, _ = srv.accept()
            conns.append(c2)
            c2.sendall(banner)
        except OSError:
            pass

    proc = live_start(port, ["-o", path, "--idle-timeout", "2"])
    thread = threading.Thread(target=serve, daemon=True)
    c2 = None
    try:
        thread.start()
        c1 = socket.create_connection(("127.0.0.1", port), timeout=10)
        f = c1.makefile("rb")
        f.readline()
        c1.sendall(b"QUIT\r\n")
        f.readline()
        f.read()
        f.close()
        c1.close()
        t0 = time.time()
        events = wait_events(path, lambda ev: len(sessions(ev)) >= 1, 3)
        check(events is not None, "the first session's event not in the file within 3 s")
        check(sessions(events)[0]["smtp"]["close"] == "quit", "first session %r"
              % sessions(events)[0]["smtp"])
        c2 = socket.create_connection(("127.0.0.1", port), timeout=10)
        c2port = c2.getsockname()[1]
        c2.recv(100)
        t0 = time.time()
        events = wait_events(path, lambda ev: len(sessions(ev)) >= 2, 6)
        took = time.time() - t0
        check(events is not None, "the idle session did not end within 6 s")
    finally:
        out = live_stop(proc)
        if c2:
            c2.close()
        srv.close()
        thread.join(5)
    s = sessions(events)[1]
    check(s["src_port"] == c2port and s["smtp"]["close"] == "timeout" and
          s["smtp"].get("banner") == "idle.test ESMTP", "idle session %r" % s["smtp"])
    check(took >= 1.5, "ended after %.1f s, before its 2 s of silence" % took)
    check(out == b"", "stdout %r" % out[:100])


# ---- main ----

def main():
    global BIN, TMP
    arg = sys.argv[1] if len(sys.argv) > 1 else "build/smtpscope-san"
    path = Path(arg)
    if not path.is_absolute():
        path = Path.cwd() / path if (Path.cwd() / path).exists() else ROOT / path
    BIN = str(path)
    if not os.access(BIN, os.X_OK):
        print("FAIL cli/binary: %s is not an executable file" % BIN)
        return 1
    failed = 0
    TMP = tempfile.mkdtemp(prefix="smtpscope-cli-")
    try:
        os.chmod(TMP, 0o755)   # the setpriv cases run as nobody
        for name, fn in TESTS:
            try:
                fn()
            except Fail as e:
                failed += 1
                print("FAIL cli/%s: %s" % (name, " ".join(str(e).split())), flush=True)
            except Skip as e:
                print("SKIP cli/%s: %s" % (name, " ".join(str(e).split())), flush=True)
            except Exception as e:  # a bug in the test itself still counts
                failed += 1
                print("FAIL cli/%s: %s: %s" % (name, type(e).__name__, " ".join(str(e).split())),
                      flush=True)
            else:
                print("PASS cli/%s" % name, flush=True)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
