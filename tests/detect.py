#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""SMTP found by content (--ports any, --detect) and through HTTP CONNECT and SOCKS tunnels."""

# usage: tests/detect.py [SMTPSCOPE]   (default build/smtpscope-san). Prints
# "PASS detect/<name>", "FAIL detect/<name>: <why>" or "SKIP ...", and exits 1
# if a case failed; a sanitizer report on stderr is a failure. The captures
# are the crafted ones of pcaps/crafted (tools/craft/make-pcaps.py) and, for
# broken handshakes and odd segmenting, written at test time with craft.py.

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SANITIZER_RE, Suite, check  # noqa: E402
sys.path.insert(0, str(ROOT / "tools" / "craft"))
from craft import Conn, Pcap  # noqa: E402

CRAFTED = ROOT / "pcaps" / "crafted"
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1", TZ="UTC")
PASSWORD = b"Tr0ub4dor&3-proxy"  # make-pcaps.py's SOCKS_PASSWORD
SECRETS = [b"Tr0ub4dor", b"proxyuser7", b"VHIwdWI0ZG9yJjMtcHJveHk",
           b"cHJveHl1c2VyNzpzZWNyZXQ=", b"ident7"]

BIN = TMP = None
SUITE = Suite("detect")
case = SUITE.case


def run(pcap, *opts, raw=False):
    p = subprocess.run([BIN, "-r", str(pcap)] + list(opts), cwd=ROOT, env=ENV,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    err = p.stderr.decode("utf-8", "replace")
    check(not SANITIZER_RE.search(err), "sanitizer report: " + err[:300])
    check(p.returncode == 0, "exit status %d: %s" % (p.returncode, err[:200]))
    if raw:
        return p.stdout + p.stderr
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def of(events, kind):
    return [e for e in events if e.get("event_type") == kind]


def stats(events):
    st = of(events, "stats")
    check(len(st) == 1, "%d stats events" % len(st))
    return st[0]["stats"]


def session_events(events):
    return [e for e in events if e.get("event_type") != "stats"]


def expect_stats(events, **want):
    st = stats(events)
    for k, v in want.items():
        check(st.get(k) == v, "stats %s: expected %r, got %r" % (k, v, st.get(k)))


def expect_flow(e, src, sport, dst, dport):
    got = (e["src_ip"], e["src_port"], e["dest_ip"], e["dest_port"])
    check(got == (src, sport, dst, dport), "flow %r, expected %r" % (
        got, (src, sport, dst, dport)))


def one_message(events, subject):
    """The session's one transaction: queued, alice to bob, subject."""
    tx = of(events, "smtp_transaction")
    check(len(tx) == 1, "%d transactions" % len(tx))
    t = tx[0]
    check(t["smtp"]["mail_from"] == "alice@client.test", "mail_from %r" % t["smtp"].get("mail_from"))
    check([r["address"] for r in t["smtp"]["rcpt_to"]] == ["bob@example.test"], "rcpt_to")
    check(t["smtp"]["status"] == "queued", "status %r" % t["smtp"].get("status"))
    check(t["email"]["subject"] == subject, "subject %r" % t["email"].get("subject"))
    return t


def alerts(events):
    """Alert kinds, the crafted messages' missing Date left out."""
    return [a["smtp"]["alert"]["kind"] for a in of(events, "smtp_alert")
            if a["smtp"]["alert"]["kind"] != "missing_date_or_msgid"]


def by_session(events):
    out = {}
    for e in session_events(events):
        out.setdefault(e["smtp"]["session"], []).append(e)
    return out


# ---- SMTP on another port ----

@case("port-2626-any")
def _():
    ev = run(CRAFTED / "any-port.pcap", "--ports", "any", "--commands")
    ss = of(ev, "smtp_session")
    check(len(ss) == 1, "%d sessions" % len(ss))
    expect_flow(ss[0], "192.0.2.80", 40040, "198.51.100.26", 2626)
    s = ss[0]["smtp"]
    check(s["banner"] == "mx.example.test ESMTP", "banner %r" % s.get("banner"))
    check(s["helo"] == "client.test" and s["commands"] == 5, "helo/commands")
    check("tunnel" not in s and "tunnel_target" not in s, "a tunnel field")
    check("midstream" not in s, "midstream set")
    one_message(ev, "SMTP on port 2626")
    cmds = of(ev, "smtp_command")
    check([c["smtp"]["command"] for c in cmds] ==
          ["<greeting>", "EHLO", "MAIL", "RCPT", "DATA", "<message>", "QUIT"],
          "commands %r" % [c["smtp"]["command"] for c in cmds])
    # the greeting is replayed with its own packet number and time
    check(cmds[0]["pcap_cnt"] == 4, "greeting pcap_cnt %r" % cmds[0].get("pcap_cnt"))
    expect_stats(ev, sessions=1, detect_examined=1, detect_smtp=1,
                 detect_not_smtp=0, detect_undecided=0, tunnels=0)


@case("port-2626-same-as-listed")
def _():
    a = session_events(run(CRAFTED / "any-port.pcap", "--ports", "any", "--commands"))
    b = session_events(run(CRAFTED / "any-port.pcap", "--ports", "2626", "--commands"))
    check(a == b, "--ports any and --ports 2626 differ")
    c = session_events(run(CRAFTED / "any-port.pcap", "--detect", "--commands"))
    check(a == c, "--ports any and --detect differ")


@case("port-2626-not-without-detection")
def _():
    ev = run(CRAFTED / "any-port.pcap")
    check(not session_events(ev), "events without detection")
    st = stats(ev)
    check("detect_examined" not in st and "tunnels" not in st,
          "detection counters without detection")


@case("config-key")
def _():
    conf = os.path.join(TMP, "detect.conf")
    with open(conf, "w") as f:
        f.write("# detection from a config file\ndetect\n")
    ev = run(CRAFTED / "any-port.pcap", "-C", conf)
    check(len(of(ev, "smtp_session")) == 1, "no session with 'detect' in -C")
    with open(conf, "w") as f:
        f.write("ports any\n")
    ev = run(CRAFTED / "any-port.pcap", "-C", conf)
    check(len(of(ev, "smtp_session")) == 1, "no session with 'ports any' in -C")


@case("bpf-filter-anded")
def _():
    ev = run(CRAFTED / "any-port.pcap", "--ports", "any", "host", "192.0.2.80")
    check(len(of(ev, "smtp_session")) == 1, "filter on the host lost the session")
    ev = run(CRAFTED / "any-port.pcap", "--ports", "any", "tcp", "port", "9999")
    check(not session_events(ev), "a filter on another port kept the session")


@case("midstream-server-first")
def _():
    ev = run(CRAFTED / "any-port-midstream.pcap", "--ports", "any", "--commands")
    ss = of(ev, "smtp_session")
    check(len(ss) == 2, "%d sessions" % len(ss))
    # the server is the side that replies, not the lower port (40050 < 50025)
    expect_flow(ss[0], "192.0.2.81", 40050, "198.51.100.27", 50025)
    expect_flow(ss[1], "192.0.2.82", 40051, "198.51.100.27", 50025)
    check(ss[0]["smtp"].get("midstream") is True and ss[1]["smtp"].get("midstream") is True,
          "midstream not set")
    s = by_session(ev)
    cmds1 = [c["smtp"]["command"] for c in of(s[1], "smtp_command")]
    check(cmds1 == ["<unsolicited>", "EHLO", "MAIL", "RCPT", "DATA", "<message>", "QUIT"],
          "session 1 commands %r" % cmds1)
    # as when the port is listed (the port says who the server is)
    listed = session_events(run(CRAFTED / "any-port-midstream.pcap", "--ports", "50025",
                                "--commands"))
    check(session_events(ev) == listed, "--ports any and --ports 50025 differ")
    subj = [of(s[n], "smtp_transaction")[0]["email"]["subject"] for n in (1, 2)]
    check(subj == ["Seen from the greeting on", "Seen from MAIL on"], "subjects %r" % subj)
    cmds2 = [c["smtp"]["command"] for c in of(s[2], "smtp_command")]
    check(cmds2 == ["MAIL", "RCPT", "DATA", "<message>", "QUIT"], "session 2 commands %r" % cmds2)
    expect_stats(ev, sessions=2, midstream_sessions=2, detect_examined=2,
                 detect_smtp=2, detect_not_smtp=0)


@case("byte-a-segment")
def _():
    """Client and server send a byte per segment: more arrivals than the
    table holds, still found (same-side arrivals merge), through SOCKS5."""
    p = Pcap()
    c = Conn(p, client=("192.0.2.91", 40100), server=("203.0.113.30", 1080))
    c.handshake()
    c.client(b"\x05\x01\x00", seg=1)
    c.server(b"\x05\x00", seg=1)
    c.client(b"\x05\x01\x00\x03\x0fmx.example.test\x00\x19", seg=1)
    c.server(b"\x05\x00\x00\x01\xcb\x00\x71\x09\x9c\x41", seg=1)
    c.server(b"220 mx.example.test ESMTP\r\n", seg=1)
    c.client(b"EHLO client.test\r\n", seg=1)
    c.server(b"250 mx.example.test\r\n", seg=1)
    c.client(b"QUIT\r\n", seg=1)
    c.server(b"221 2.0.0 Bye\r\n", seg=1)
    c.close()
    path = os.path.join(TMP, "bytes.pcap")
    p.write(path)
    ev = run(path, "--ports", "any", "--commands")
    ss = of(ev, "smtp_session")
    check(len(ss) == 1, "%d sessions" % len(ss))
    s = ss[0]["smtp"]
    check(s.get("tunnel") == "socks5" and s.get("tunnel_target") == "mx.example.test:25",
          "tunnel %r %r" % (s.get("tunnel"), s.get("tunnel_target")))
    check(s["banner"] == "mx.example.test ESMTP" and s["helo"] == "client.test"
          and s["close"] == "quit", "session %r" % s)
    check(s["bytes"] == {"client": 24, "server": 63}, "bytes %r" % s["bytes"])


# ---- tunnels ----

@case("http-connect")
def _():
    for opts in (["--ports", "any"], ["--ports", "3128"], ["--detect"]):
        ev = run(CRAFTED / "http-connect.pcap", "--commands", *opts)
        ss = of(ev, "smtp_session")
        check(len(ss) == 1, "%s: %d sessions" % (opts, len(ss)))
        expect_flow(ss[0], "192.0.2.83", 40060, "203.0.113.8", 3128)
        s = ss[0]["smtp"]
        check(s.get("tunnel") == "http-connect", "%s: tunnel %r" % (opts, s.get("tunnel")))
        check(s.get("tunnel_target") == "mx.example.test:25", "target %r" % s.get("tunnel_target"))
        check(s["banner"] == "mx.example.test ESMTP", "banner %r" % s.get("banner"))
        check(all(e["smtp"].get("tunnel") == "http-connect" for e in session_events(ev)),
              "an event without smtp.tunnel")
        check(not alerts(ev), "alerts: %r" % alerts(ev))
        one_message(ev, "Through an HTTP CONNECT proxy")
        check(stats(ev)["tunnels"] == 1, "tunnels counter")
    check(not session_events(run(CRAFTED / "http-connect.pcap")), "events on default ports")


@case("http-connect-transcript")
def _():
    out = run(CRAFTED / "http-connect.pcap", "--ports", "any", "-T", raw=True).decode()
    first = out.splitlines()[0]
    check(first.endswith("192.0.2.83:40060 -> 203.0.113.8:3128  "
                         "(tunnel http-connect to mx.example.test:25) ==="),
          "session header %r" % first)
    check("CONNECT mx" not in out and "HTTP/1.1" not in out and "Via:" not in out,
          "the HTTP preamble in the transcript")


@case("socks5-password-never-logged")
def _():
    exdir = os.path.join(TMP, "extract")
    os.mkdir(exdir)
    for opts in (["--ports", "any", "--commands", "--transcript", "--show-auth-user"],
                 ["--detect", "-T", "-o", "-"], ["--ports", "1080", "--commands"],
                 ["--ports", "any", "--extract", exdir]):
        for pcap in ("socks5-auth.pcap", "not-smtp.pcap"):
            out = run(CRAFTED / pcap, *opts, raw=True)
            for secret in SECRETS:
                check(secret not in out, "%s %s: %r in the output" % (pcap, opts, secret))
    for name in os.listdir(exdir):
        with open(os.path.join(exdir, name), "rb") as f:
            data = f.read()
        check(PASSWORD not in data, "the password in an extracted file")


@case("socks5")
def _():
    ev = run(CRAFTED / "socks5-auth.pcap", "--ports", "any", "--commands")
    ss = of(ev, "smtp_session")
    check(len(ss) == 2, "%d sessions" % len(ss))
    expect_flow(ss[0], "192.0.2.84", 40070, "203.0.113.9", 1080)
    targets = [(s["smtp"].get("tunnel"), s["smtp"].get("tunnel_target")) for s in ss]
    check(targets == [("socks5", "mx.example.test:25"), ("socks5", "198.51.100.25:25")],
          "tunnels %r" % targets)
    s = by_session(ev)
    subj = [of(s[n], "smtp_transaction")[0]["email"]["subject"] for n in (1, 2)]
    check(subj == ["Through a SOCKS5 proxy", "SOCKS5 sent at once"], "subjects %r" % subj)
    check(not alerts(ev), "alerts: %r" % alerts(ev))
    expect_stats(ev, sessions=2, tunnels=2, detect_smtp=2, detect_not_smtp=0)


@case("socks4")
def _():
    ev = run(CRAFTED / "socks4.pcap", "--ports", "any")
    ss = of(ev, "smtp_session")
    targets = [(s["smtp"].get("tunnel"), s["smtp"].get("tunnel_target")) for s in ss]
    check(targets == [("socks4", "198.51.100.25:25"), ("socks4", "mail.example.test:587")],
          "tunnels %r" % targets)
    check(all(s["smtp"]["helo"] == "client.test" and s["smtp"]["transactions"] == 1
              for s in ss), "sessions not whole")
    check(not alerts(ev), "alerts: %r" % alerts(ev))


# ---- not SMTP ----

@case("not-smtp")
def _():
    ev = run(CRAFTED / "not-smtp.pcap", "--ports", "any", "--commands")
    check(not session_events(ev), "events: %r" % [e["event_type"] for e in session_events(ev)])
    expect_stats(ev, sessions=0, detect_examined=8, detect_smtp=0,
                 detect_not_smtp=8, detect_undecided=0, tunnels=0)


@case("not-smtp-listed-socks-refused")
def _():
    """On a listed port, a SOCKS5 password the proxy refused: the session
    is silent (no byte decoded), and says no tunnel."""
    ev = run(CRAFTED / "not-smtp.pcap", "--ports", "1080", "--commands")
    ss = of(ev, "smtp_session")
    check(len(ss) == 1, "%d sessions" % len(ss))
    s = ss[0]["smtp"]
    check(s["commands"] == 0 and "tunnel" not in s and "banner" not in s,
          "session %r" % s)
    # the server never greeted: no_greeting, the session's only alert
    kinds = [e["smtp"]["alert"]["kind"] for e in of(ev, "smtp_alert")]
    check(s["close"] == "no_greeting" and kinds == ["no_greeting"],
          "close %r, alerts %r" % (s["close"], kinds))
    check(len(session_events(ev)) == 2, "other events")


def broken(name, client, server, port=1080, more=None):
    p = Pcap()
    c = Conn(p, client=("192.0.2.92", 40110), server=("203.0.113.31", port))
    c.handshake()
    if client:
        c.client(client)
    if server:
        c.server(server)
    for side, data in more or ():
        getattr(c, side)(data)
    c.close()
    path = os.path.join(TMP, name + ".pcap")
    p.write(path)
    return path


SMTP_AFTER = [("server", b"220 mx.example.test ESMTP\r\n"),
              ("client", b"EHLO client.test\r\n"),
              ("server", b"250 mx.example.test\r\n")]

BROKEN = [
    # (name, client bytes, server bytes, port, more, SMTP sessions expected)
    ("socks5-greeting-only", b"\x05\x02\x00\x02", b"", 1080, None, 0),
    ("socks5-no-methods", b"\x05\x00", b"\x05\x00", 1080, SMTP_AFTER, 0),
    ("socks5-bad-atyp", b"\x05\x01\x00\x05\x01\x00\x09abcdef", b"\x05\x00\x05\x00\x00\x01", 1080, SMTP_AFTER, 0),
    ("socks5-refused", b"\x05\x01\x00\x05\x01\x00\x01\x01\x02\x03\x04\x00\x19", b"\x05\x00\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00", 1080, SMTP_AFTER, 0),
    ("socks5-cut-reply", b"\x05\x01\x00\x05\x01\x00\x03\xff" + b"a" * 200, b"\x05\x00\x05\x00\x00\x03\xff", 1080, None, 0),
    ("socks4-no-nul", b"\x04\x01\x00\x19\x01\x02\x03\x04" + b"u" * 300, b"", 1080, None, 0),
    ("socks4-rejected", b"\x04\x01\x00\x19\x01\x02\x03\x04\x00", b"\x00\x5b" + bytes(6), 1080, SMTP_AFTER, 0),
    ("connect-huge-headers", b"CONNECT mx.example.test:25 HTTP/1.1\r\n" + b"X-Pad: " + b"p" * 3000 + b"\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n", 3128, SMTP_AFTER, 0),
    ("connect-407", b"CONNECT mx.example.test:25 HTTP/1.1\r\n\r\n", b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", 3128, SMTP_AFTER, 0),
    ("connect-not-http-answer", b"CONNECT mx.example.test:25 HTTP/1.1\r\n\r\n", b"220 mx.example.test ESMTP\r\n", 3128, [("client", b"EHLO client.test\r\n")], 0),
    ("connect-no-authority", b"CONNECT  HTTP/1.1\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n", 3128, SMTP_AFTER, 0),
    ("connect-binary-target", b"CONNECT \x01\x7f\xff:25 HTTP/1.0\r\n\r\n", b"HTTP/1.0 200 OK\r\n\r\n", 3128, SMTP_AFTER, 1),
    ("long-first-line", b"E" * 600 + b"\r\n", b"220 x\r\n", 2600, None, 0),
    ("ehlo-answered-by-junk", b"EHLO client.test\r\n", b"HELLO\r\n", 2600, None, 0),
    ("two-clients", b"EHLO a\r\n", b"EHLO b\r\n", 2600, None, 0),
]


@case("broken-handshakes")
def _():
    for name, cl, sv, port, more, want in BROKEN:
        path = broken(name, cl, sv, port, more)
        out = run(path, "--ports", "any", "--commands", raw=True)
        ev = [json.loads(line) for line in out.splitlines() if line.startswith(b"{")]
        n = len(of(ev, "smtp_session"))
        check(n == want, "%s: %d SMTP sessions, expected %d" % (name, n, want))
        st = stats(ev)
        check(st["detect_examined"] == 1 and
              st["detect_smtp"] + st["detect_not_smtp"] + st["detect_undecided"] == 1,
              "%s: counters %r" % (name, {k: v for k, v in st.items() if k.startswith("detect")}))
        # the same on the proxy's port listed: never a crash, and a
        # refused SOCKS never decoded
        run(path, "--ports", str(port), "--commands", raw=True)


@case("binary-target-escaped")
def _():
    path = broken("connect-binary-target-2", b"CONNECT \x01\x7f\xff:25 HTTP/1.0\r\n\r\n",
                  b"HTTP/1.0 200 OK\r\n\r\n", 3128, SMTP_AFTER)
    ev = run(path, "--ports", "any")
    ss = of(ev, "smtp_session")
    check(len(ss) == 1 and ss[0]["smtp"]["tunnel_target"] == "???:25",
          "target %r" % [s["smtp"].get("tunnel_target") for s in ss])


@case("corpus-any-port-same")
def _():
    """Every Zeek trace (../shared/corpus/zeek, or $SMTPSCOPE_CORPUS) and
    every capture of pcaps/: --ports any finds exactly the SMTP sessions
    the default ports give, event for event, and nothing else."""
    corpus = Path(os.environ.get("SMTPSCOPE_CORPUS", ROOT.parent / "shared" / "corpus" / "zeek"))
    traces = sorted(p for p in corpus.glob("*.pcap*")) if corpus.is_dir() else []
    traces += sorted(ROOT.glob("pcaps/*.pcap")) + sorted(CRAFTED.glob("*.pcap"))
    ours = {"any-port", "any-port-midstream", "http-connect", "socks4", "socks5-auth",
            # connections that never became SMTP: on the SMTP port they
            # end as no_greeting or not_smtp; by content, they are none
            "no-greeting"}
    n = 0
    for t in traces:
        if t.name == "connect-with-smtp.pcap" or t.stem in ours:
            continue
        a = session_events(run(t, "--commands"))
        b = session_events(run(t, "--commands", "--ports", "any"))
        check(a == b, "%s: --ports any differs from the default ports" % t.name)
        n += 1
    check(n >= 20, "only %d captures compared" % n)


def main():
    global BIN, TMP
    BIN, TMP = SUITE.start()
    return SUITE.run() if BIN else 1


if __name__ == "__main__":
    sys.exit(main())
