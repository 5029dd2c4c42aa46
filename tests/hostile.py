#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile-input tests for smtpscope: credentials never reach any output, and
every output line stays strict UTF-8 JSON or an unforgeable transcript."""

# usage: tests/hostile.py [SMTPSCOPE]   (default build/smtpscope-san, the
# ASan/UBSan build). Prints one line per case, "PASS hostile/<name>",
# "FAIL hostile/<name>: <why>" or "SKIP hostile/<name>: <why>", and exits 1 if
# any case failed. A sanitizer report on stderr is a failure. The captures are
# written at test time with tools/craft/craft.py into a temporary directory,
# removed at exit. One capture holds many sessions (one client address each)
# and is run once per output mode: a run costs ~0.5 s, a capture nothing.
#
# Part A (auth-*): every AUTH form leaves no piece of its secret in any output
# (stdout, stderr, extracted files, decoded JSON strings), literally or under
# base64 at any alignment; the user name only in smtp.auth.user with
# --show-auth-user; the dialogue around the exchange is still right.
# Part B (bytes-*, decoded-*): hostile bytes in every wire field and in
# decoded header text; every JSON line is strict UTF-8 JSON, every transcript
# line free of control and bidi characters, and the transcript has exactly
# one line per wire line (no forged S: lines nor session headers); the events
# are those of the benign session, MAIL parameters kept whole.

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True   # leave no __pycache__ in the tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SANITIZER_RE, Fail, Suite, check  # noqa: E402
sys.path.insert(0, str(ROOT / "tools" / "craft"))
from craft import Conn, Pcap  # noqa: E402

RUN_TIMEOUT = 60
SERVER = ("198.51.100.25", 25)

BIN = None   # absolute path of the binary under test
TMP = None   # temporary directory of this run
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1", TZ="UTC")


SUITE = Suite("hostile")
case = SUITE.case


def tmp(name):
    return os.path.join(TMP, name)


# ---- running the binary ----

class Result:
    def __init__(self, opts, rc, out, err, files):
        self.opts = opts
        self.rc = rc
        self.out = out          # bytes
        self.err = err          # bytes
        self.files = files      # {name: bytes} written under --extract DIR
        self.json = b""         # bytes written to -o FILE (with -T)


RUNS = {}


def run(pcap, opts):
    """Run the binary on pcap with opts once (cached); -T runs also write
    their JSON to a file, --extract runs get a fresh directory."""
    key = (pcap, tuple(opts))
    if key in RUNS:
        r = RUNS[key]
        if isinstance(r, Fail):
            raise r
        return r
    xdir = jfile = None
    args = ["-r", pcap]
    for o in opts:
        args.append(o)
        if o == "--extract":
            xdir = tempfile.mkdtemp(dir=TMP, prefix="x-")
            args.append(xdir)
    if "-T" in opts:
        jfile = tmp("j-%d" % len(RUNS))
        args += ["-o", jfile]
    try:
        p = subprocess.run([BIN] + args, cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
        err = p.stderr.decode("utf-8", "replace")
        m = SANITIZER_RE.search(err)
        if m:
            line = next((x for x in err.splitlines() if SANITIZER_RE.search(x)), m.group(0))
            raise Fail("%s: sanitizer report: %s" % (" ".join(opts), line.strip()[:300]))
        if p.returncode != 0:
            raise Fail("%s: exit %d, stderr %r" % (" ".join(opts), p.returncode, err[:300]))
        files = {}
        if xdir:
            for dirpath, _, names in os.walk(xdir):
                for n in names:
                    with open(os.path.join(dirpath, n), "rb") as f:
                        files[os.path.relpath(os.path.join(dirpath, n), xdir)] = f.read()
        r = Result(list(opts), p.returncode, p.stdout, p.stderr, files)
        if jfile:
            with open(jfile, "rb") as f:
                r.json = f.read()
    except subprocess.TimeoutExpired:
        RUNS[key] = Fail("timed out after %d s: %s" % (RUN_TIMEOUT, " ".join(opts)))
        raise RUNS[key]
    except Fail as e:
        RUNS[key] = e
        raise
    RUNS[key] = r
    return r


# ---- strict JSON ----

def strict_lines(data, what):
    """Every line strict UTF-8, strict JSON, one object, no duplicate keys."""
    check(data == b"" or data.endswith(b"\n"), "%s: does not end with a newline" % what)
    events = []

    def no_dups(pairs):
        keys = [k for k, _ in pairs]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ValueError("duplicate key(s) %r in one object" % dup[:3])
        return dict(pairs)

    def no_constant(name):
        raise ValueError("non-JSON constant %s" % name)

    for n, line in enumerate(data.split(b"\n")[:-1], 1):
        try:
            text = line.decode("utf-8", "strict")
        except UnicodeDecodeError as e:
            raise Fail("%s line %d is not UTF-8 (%s): %r" % (what, n, e.reason,
                       line[max(0, e.start - 40):e.start + 20]))
        try:
            ev = json.loads(text, object_pairs_hook=no_dups, parse_constant=no_constant)
        except ValueError as e:
            raise Fail("%s line %d is not strict JSON (%s): %r" % (what, n, e, text[:160]))
        check(isinstance(ev, dict), "%s line %d is not one JSON object" % (what, n))
        events.append(ev)
    return events


def events_of(r):
    return strict_lines(r.json if "-T" in r.opts else r.out, " ".join(r.opts) or "default")


def strings(v, acc):
    """Every key and string value of a JSON value, decoded."""
    if isinstance(v, dict):
        for k, x in v.items():
            acc.append(k)
            strings(x, acc)
    elif isinstance(v, list):
        for x in v:
            strings(x, acc)
    elif isinstance(v, str):
        acc.append(v)
    return acc


# ---- transcripts ----

BAD_CHARS = set(range(0x20)) | {0x7f} | set(range(0x80, 0xa0)) | \
    set(range(0x202a, 0x202f)) | set(range(0x2066, 0x206a)) | \
    {0x200e, 0x200f, 0x061c, 0x2028, 0x2029}


def bad_char(text):
    """The first forbidden character of a transcript line, or None."""
    for ch in text:
        if ord(ch) in BAD_CHARS:
            return ch
    return None


HEADER_RE = re.compile(r"^=== session \d+  \S+  (\S+):(\d+) -> (\S+):(\d+) ===$")


def text_blocks(out):
    """-T output: strict UTF-8, clean lines; {(client ip, port): [lines]}
    (the lines between the header and the end line, margins kept), and the
    number of session headers."""
    try:
        text = out.decode("utf-8", "strict")
    except UnicodeDecodeError as e:
        raise Fail("-T output is not UTF-8 (%s): %r" % (e.reason, out[max(0, e.start - 40):e.start + 20]))
    check(text == "" or text.endswith("\n"), "-T output does not end with a newline")
    blocks, cur, headers = {}, None, 0
    for n, line in enumerate(text.split("\n")[:-1], 1):
        c = bad_char(line)
        if c is not None:
            raise Fail("-T line %d holds U+%04X: %r" % (n, ord(c), line[:160]))
        if line.startswith("=== session"):
            headers += 1
            m = HEADER_RE.match(line)
            check(m, "-T line %d: a session header of an unexpected form: %r" % (n, line[:160]))
            cur = (m.group(1), int(m.group(2)))
            check(cur not in blocks, "-T: two session headers for %s:%d" % cur)
            blocks[cur] = []
        elif line.startswith("--- end"):
            cur = None
        elif cur is not None:
            blocks[cur].append(line)
        else:
            check(line == "", "-T line %d outside any session: %r" % (n, line[:160]))
    return blocks, headers


# ---- crafting ----

def b64(b):
    return base64.b64encode(b)


BANNER = b"220 mx.example.test ESMTP\r\n"
EXT = (b"250-mx.example.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n"
       b"250-AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER SCRAM-SHA-256\r\n"
       b"250 8BITMIME\r\n")
SENDER = "sender@mail.test"
MESSAGE = (b"From: Sender <sender@mail.test>\r\nTo: <rcpt@dest.test>\r\n"
           b"Subject: quarterly figures\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
           b"Message-ID: <m1@mail.test>\r\n\r\nThe figures are attached.\r\n.\r\n")
AFTER = [("client", b"MAIL FROM:<sender@mail.test>\r\n", {}),
         ("server", b"250 2.1.0 Ok\r\n", {}),
         ("client", b"RCPT TO:<rcpt@dest.test>\r\n", {}),
         ("server", b"250 2.1.5 Ok\r\n", {}),
         ("client", b"DATA\r\n", {}),
         ("server", b"354 End data with <CR><LF>.<CR><LF>\r\n", {}),
         ("client", MESSAGE, {}),
         ("server", b"250 2.0.0 Ok: queued as 4Zt3Kq1Xyz\r\n", {}),
         ("client", b"QUIT\r\n", {}),
         ("server", b"221 2.0.0 Bye\r\n", {})]
AFTER_CMDS = [("MAIL", 250), ("RCPT", 250), ("DATA", 354), ("<message>", 250), ("QUIT", 221)]


def C(data, **kw):
    return ("client", data, kw)


def S(data, **kw):
    return ("server", data, kw)


def play(p, client, steps):
    c = Conn(p, client=client, server=SERVER)
    c.handshake()
    for side, data, kw in steps:
        c.send(side, data, **kw)
    c.close()


# ---- A. credentials never reach any output ----

U1 = b"334 VXNlcm5hbWU6\r\n"   # "Username:"
U2 = b"334 UGFzc3dvcmQ6\r\n"   # "Password:"
OK = b"235 2.7.0 Authentication successful\r\n"
BAD = b"535 5.7.8 Error: authentication failed: authentication failure\r\n"
NOAUTH_EXT = b"250-mx.example.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
MASK = "********"
EXACT, ANY, NONE = "exact", "any", "none"   # what --show-auth-user may show


def secret(name, n=0):
    """A distinctive 24-byte password of one scenario (printable ASCII)."""
    h = hashlib.sha256(("%s/%d" % (name, n)).encode()).hexdigest()
    return ("Pw%s!%s" % (h[:10], h[10:22].upper())).encode()


class Auth:
    """One AUTH scenario: the exchange between EHLO and MAIL, what is secret
    in it and what the outputs must show of it."""

    def __init__(self, name, steps, secrets, user, mech, result, code, masks, pairs,
                 shown=EXACT, ext=EXT, auth_line=None, alerts=(), lines=(), cancel=False):
        self.name, self.steps, self.secrets, self.user = name, steps, secrets, user
        self.mech, self.result, self.code, self.masks, self.pairs = mech, result, code, masks, pairs
        self.shown, self.ext, self.auth_line, self.alerts = shown, ext, auth_line, alerts
        self.lines = lines   # the base64 response lines as sent (checked literally)
        self.cancel = cancel  # a "*" response line cancels an exchange


AUTHS = []


def auth(name, steps_fn, mech, result="success", code=235, masks=0, pairs=None, **kw):
    """Register a scenario: steps_fn(user, password, name) gives (steps,
    extra secrets, base64 lines)."""
    user = ("usr-%s@corp.test" % name).encode()
    pw = secret(name)
    steps, extra, lines = steps_fn(user, pw, name)
    AUTHS.append(Auth(name, steps, [pw] + list(extra), user, mech, result, code, masks,
                      pairs, lines=lines, **kw))


def plain_blob(user, pw):
    return b"\0" + user + b"\0" + pw


def login_steps(user, pw, first=b"AUTH LOGIN\r\n", drop=None):
    """AUTH LOGIN, user and password on their own lines; drop names the packet
    not captured: 'auth', 'u1' (first 334), 'user', 'u2', 'gap' (the CRLF
    that ends the user line: a gap right before the password line)."""
    drop = drop or ""
    lu, lp = b64(user) + b"\r\n", b64(pw) + b"\r\n"
    steps = [C(first, drop={0} if drop == "auth" else ()),
             S(U1, drop={0} if drop == "u1" else ())]
    if drop == "gap":
        steps.append(C(lu, seg=len(lu) - 2, drop={1}))
    else:
        steps.append(C(lu, drop={0} if drop == "user" else ()))
    steps += [S(U2, drop={0} if drop == "u2" else ()), C(lp), S(OK)]
    return steps, [], [b64(user), b64(pw)]


auth("plain-ir", lambda u, p, n: ([C(b"AUTH PLAIN " + b64(plain_blob(u, p)) + b"\r\n"), S(OK)],
                                  [plain_blob(u, p)], [b64(plain_blob(u, p))]),
     "PLAIN", pairs=[("AUTH", 235)], auth_line="AUTH PLAIN " + MASK)
auth("plain-authzid", lambda u, p, n: ([C(b"AUTH PLAIN " + b64(b"admin@corp.test" + plain_blob(u, p))
                                          + b"\r\n"), S(OK)],
                                       [plain_blob(u, p)], [b64(b"admin@corp.test" + plain_blob(u, p))]),
     "PLAIN", pairs=[("AUTH", 235)], auth_line="AUTH PLAIN " + MASK)
auth("plain-no-ir", lambda u, p, n: ([C(b"AUTH PLAIN\r\n"), S(b"334 \r\n"),
                                      C(b64(plain_blob(u, p)) + b"\r\n"), S(OK)],
                                     [plain_blob(u, p)], [b64(plain_blob(u, p))]),
     "PLAIN", masks=1, pairs=[("AUTH", 334), ("<auth>", 235)], auth_line="AUTH PLAIN")
auth("login", lambda u, p, n: login_steps(u, p),
     "LOGIN", masks=2, pairs=[("AUTH", 334), ("<auth>", 334), ("<auth>", 235)], auth_line="AUTH LOGIN")
auth("login-ir", lambda u, p, n: ([C(b"AUTH LOGIN " + b64(u) + b"\r\n"), S(U2),
                                   C(b64(p) + b"\r\n"), S(OK)], [], [b64(p)]),
     "LOGIN", masks=1, pairs=[("AUTH", 334), ("<auth>", 235)], auth_line="AUTH LOGIN " + MASK)


def cram(u, p, n):
    chal = b"<1896.697170952@mx.example.test>"
    digest = hmac.new(p, chal, hashlib.md5).hexdigest().encode()
    resp = b64(u + b" " + digest)
    return ([C(b"AUTH CRAM-MD5\r\n"), S(b"334 " + b64(chal) + b"\r\n"), C(resp + b"\r\n"), S(OK)],
            [digest], [resp])


auth("cram-md5", cram, "CRAM-MD5", masks=1, pairs=[("AUTH", 334), ("<auth>", 235)], shown=ANY,
     auth_line="AUTH CRAM-MD5")


def token(n):
    return b"ya29." + base64.urlsafe_b64encode(hashlib.sha256(b"token/" + n.encode()).digest()).rstrip(b"=")


def xoauth2(u, p, n):
    blob = b"user=" + u + b"\x01auth=Bearer " + token(n) + b"\x01\x01"
    return [C(b"AUTH XOAUTH2 " + b64(blob) + b"\r\n"), S(OK)], [token(n), blob[len(u) + 5:]], [b64(blob)]


auth("xoauth2", xoauth2, "XOAUTH2", pairs=[("AUTH", 235)], shown=ANY, auth_line="AUTH XOAUTH2 " + MASK)


def oauthbearer(u, p, n):
    blob = (b"n,a=" + u + b",\x01host=mx.example.test\x01port=587\x01auth=Bearer " + token(n)
            + b"\x01\x01")
    return ([C(b"AUTH OAUTHBEARER " + b64(blob) + b"\r\n"), S(OK)],
            [token(n), b"\x01auth=Bearer " + token(n)], [b64(blob)])


auth("oauthbearer", oauthbearer, "OAUTHBEARER", pairs=[("AUTH", 235)], shown=ANY,
     auth_line="AUTH OAUTHBEARER " + MASK)


def scram(u, p, n):
    cnonce = b"rOprNGfwEbeRWgbNEkqO"
    snonce = cnonce + b"%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    first = b"n,,n=" + u + b",r=" + cnonce
    server_first = b"r=" + snonce + b",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    proof = b64(hmac.new(p, b"proof", hashlib.sha256).digest())
    final = b"c=biws,r=" + snonce + b",p=" + proof
    server_final = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    return ([C(b"AUTH SCRAM-SHA-256 " + b64(first) + b"\r\n"),
             S(b"334 " + b64(server_first) + b"\r\n"),
             C(b64(final) + b"\r\n"),
             S(b"334 " + b64(server_final) + b"\r\n"),
             C(b"\r\n"), S(OK)],
            [proof, base64.b64decode(proof), final], [b64(final)])


auth("scram-sha-256", scram, "SCRAM-SHA-256", masks=2,
     pairs=[("AUTH", 334), ("<auth>", 334), ("<auth>", 235)], shown=ANY,
     auth_line="AUTH SCRAM-SHA-256 " + MASK)
auth("login-pipelined", lambda u, p, n: ([C(b"AUTH LOGIN\r\n" + b64(u) + b"\r\n" + b64(p) + b"\r\n"),
                                          S(U1), S(U2), S(OK)], [], [b64(p)]),
     "LOGIN", masks=2, pairs=[("AUTH", 334), ("<auth>", 334), ("<auth>", 235)], auth_line="AUTH LOGIN")
auth("plain-pipelined", lambda u, p, n: ([C(b"AUTH PLAIN\r\n" + b64(plain_blob(u, p)) + b"\r\n"),
                                          S(b"334 \r\n"), S(OK)],
                                         [plain_blob(u, p)], [b64(plain_blob(u, p))]),
     "PLAIN", masks=1, pairs=[("AUTH", 334), ("<auth>", 235)], auth_line="AUTH PLAIN")
REFUSED = b"502 5.5.2 Error: command not recognized\r\n"
auth("login-pipelined-refused-504",
     lambda u, p, n: ([C(b"AUTH LOGIN\r\n" + b64(u) + b"\r\n" + b64(p) + b"\r\n"),
                       S(b"504 5.5.4 Unrecognized authentication type\r\n" + REFUSED + REFUSED)],
                      [], [b64(p)]),
     "LOGIN", result="failure", code=504, masks=2,
     pairs=[("AUTH", 504), ("<auth>", 502), ("<auth>", 502)], ext=NOAUTH_EXT, auth_line="AUTH LOGIN")
auth("login-pipelined-refused-503",
     lambda u, p, n: ([C(b"AUTH LOGIN\r\n" + b64(u) + b"\r\n" + b64(p) + b"\r\n"),
                       S(b"503 5.5.1 Error: authentication not enabled\r\n"),
                       S(REFUSED), S(REFUSED)], [], [b64(p)]),
     "LOGIN", result="failure", code=503, masks=2,
     pairs=[("AUTH", 503), ("<auth>", 502), ("<auth>", 502)], ext=NOAUTH_EXT, auth_line="AUTH LOGIN")
auth("plain-tabs", lambda u, p, n: ([C(b"auth\tplain\t" + b64(plain_blob(u, p)) + b"\r\n"), S(OK)],
                                    [plain_blob(u, p)], [b64(plain_blob(u, p))]),
     "PLAIN", pairs=[("AUTH", 235)])
auth("login-lowercase", lambda u, p, n: login_steps(u, p, first=b"auth login\r\n"),
     "LOGIN", masks=2, pairs=[("AUTH", 334), ("<auth>", 334), ("<auth>", 235)])
auth("login-lost-first-334", lambda u, p, n: login_steps(u, p, drop="u1"),
     "LOGIN", masks=2, shown=ANY)
auth("login-lost-second-334", lambda u, p, n: login_steps(u, p, drop="u2"),
     "LOGIN", masks=2, shown=ANY)
auth("login-lost-auth-line", lambda u, p, n: login_steps(u, p, drop="auth"),
     None, masks=2, shown=ANY)  # the mechanism is unknown: auth may be absent
auth("login-lost-user-line", lambda u, p, n: login_steps(u, p, drop="user"),
     "LOGIN", masks=1, shown=ANY)
auth("login-gap-before-password", lambda u, p, n: login_steps(u, p, drop="gap"),
     "LOGIN", masks=(0, 1), shown=ANY)
auth("starttls-refused-then-plain",
     lambda u, p, n: ([C(b"STARTTLS\r\n"), S(b"454 4.7.0 TLS not available due to local problem\r\n"),
                       C(b"AUTH PLAIN " + b64(plain_blob(u, p)) + b"\r\n"), S(OK)],
                      [plain_blob(u, p)], [b64(plain_blob(u, p))]),
     "PLAIN", pairs=[("STARTTLS", 454), ("AUTH", 235)], auth_line="AUTH PLAIN " + MASK)
auth("cancel-then-plain",
     lambda u, p, n: ([C(b"AUTH LOGIN\r\n"), S(U1), C(b"*\r\n"),
                       S(b"501 5.7.0 Authentication aborted\r\n"),
                       C(b"AUTH PLAIN " + b64(plain_blob(u, p)) + b"\r\n"), S(OK)],
                      [plain_blob(u, p)], [b64(plain_blob(u, p))]),
     "PLAIN", masks=1, pairs=[("AUTH", 334), ("<auth>", 501), ("AUTH", 235)],
     auth_line="AUTH PLAIN " + MASK, cancel=True)


def xoauth2_fail(u, p, n):
    steps, secrets, lines = xoauth2(u, p, n)
    err = b'{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}'
    return ([steps[0], S(b"334 " + b64(err) + b"\r\n"), C(b"\r\n"),
             S(b"535-5.7.8 Username and Password not accepted.\r\n535 5.7.8 Learn more\r\n")],
            secrets, lines)


auth("xoauth2-failure", xoauth2_fail, "XOAUTH2", result="failure", code=535, masks=1,
     pairs=[("AUTH", 334), ("<auth>", 535)], shown=ANY, auth_line="AUTH XOAUTH2 " + MASK,
     alerts=("auth_failure",))


def bruteforce(u, p, n):
    steps, pws, lines = [], [], []
    for i in range(6):
        pw = secret(n, i + 1)
        pws.append(pw)
        lines.append(b64(pw))
        steps += [C(b"AUTH LOGIN\r\n"), S(U1), C(b64(u) + b"\r\n"), S(U2), C(b64(pw) + b"\r\n"),
                  S(BAD)]
    return steps, pws, lines


auth("bruteforce", bruteforce, "LOGIN", result="failure", code=535, masks=12,
     pairs=[("AUTH", 334), ("<auth>", 334), ("<auth>", 535)] * 6, auth_line="AUTH LOGIN",
     alerts=("auth_failure", "auth_bruteforce"))

AUTH_MODES = [[], ["--commands"], ["--transcript"], ["--show-auth-user"], ["-T"],
              ["-T", "--show-auth-user"], ["--commands", "--transcript", "--show-auth-user"],
              ["--extract"]]
AUTH_PCAP = None


def auth_ip(i):
    return "192.0.2.%d" % (10 + i)


def auth_pcap():
    """One capture, one session (and client address) per scenario."""
    global AUTH_PCAP
    if AUTH_PCAP is None:
        p = Pcap()
        for i, a in enumerate(AUTHS):
            play(p, (auth_ip(i), 41000 + i),
                 [S(BANNER), C(b"EHLO client.test\r\n"), S(a.ext)] + a.steps + AFTER)
        AUTH_PCAP = tmp("auth.pcap")
        p.write(AUTH_PCAP)
    return AUTH_PCAP


B64_RUN = re.compile(rb"[A-Za-z0-9+/]{2,}|[A-Za-z0-9_-]{2,}")


def b64_views(data):
    """The base64 decoding of each maximal run of base64 characters of data,
    starting at each of the four alignments (standard and URL alphabets)."""
    out = []
    for m in B64_RUN.finditer(data):
        run_ = m.group(0).replace(b"-", b"+").replace(b"_", b"/")
        for off in range(4):
            r = run_[off:]
            r = r[:len(r) - len(r) % 4]
            if r:
                out.append(base64.b64decode(r))
    return b"\n".join(out)


def pieces(s, public, n=8):
    """The n-byte pieces of s that are not in the public bytes."""
    if len(s) < n:
        return {s} - ({s} if s in public else set())
    return {s[i:i + n] for i in range(len(s) - n + 1)} - {s[i:i + n] for i in range(len(s) - n + 1)
                                                            if s[i:i + n] in public}


def leak(corpus, decoded, secret_pieces):
    for piece in sorted(secret_pieces):
        if piece in corpus:
            return "literally", piece
        if piece in decoded:
            return "base64-decoded", piece
    return None


def auth_outputs():
    """For each mode: the run, its events (strict JSON) and its -T blocks."""
    path = auth_pcap()
    outs = []
    for opts in AUTH_MODES:
        r = run(path, opts)
        evs = events_of(r)
        blocks = text_blocks(r.out)[0] if "-T" in opts else None
        outs.append((opts, r, evs, blocks))
    return outs


def session_events(evs, ip):
    return [e for e in evs if e.get("src_ip") == ip]


def check_auth(i, a):
    ip = auth_ip(i)
    public = b"\n".join(d + b"\n" + b64_views(d) for side, d, kw in a.steps if side == "server")
    public += b"\n" + a.user + b"\n" + EXT + NOAUTH_EXT
    secret_pieces = set()
    for s in a.secrets:
        secret_pieces |= pieces(s, public)
    check(secret_pieces, "the scenario has no secret piece to look for")
    for opts, r, evs, blocks in auth_outputs():
        mode = " ".join(opts) or "default"
        show = "--show-auth-user" in opts
        # the user name is allowed in this session's smtp.auth.user only
        allowed = b'"user":"' + a.user + b'"'
        raw = []
        for line in (r.json if "-T" in opts else r.out).split(b"\n"):
            if show and (b'"src_ip":"%s"' % ip.encode()) in line:
                line = line.replace(allowed, b'"user":""')
            raw.append(line)
        texts = []
        for e in evs:
            au = e.get("smtp", {}).get("auth") if e.get("src_ip") == ip else None
            if show and isinstance(au, dict) and au.get("user") == a.user.decode():
                e = json.loads(json.dumps(e))
                e["smtp"]["auth"]["user"] = ""
            strings(e, texts)
        corpus = b"\n".join(raw) + b"\n" + (r.out if "-T" in opts else b"") + b"\n" + r.err + \
            b"\n" + b"\n".join(r.files.values()) + b"\n" + "\n".join(texts).encode("utf-8", "surrogatepass")
        decoded = b64_views(corpus)
        where = leak(corpus, decoded, secret_pieces)
        if where:
            raise Fail("%s: a piece of the secret appears %s: %r" % (mode, *where))
        for line in a.lines:
            check(line not in corpus, "%s: the base64 response line appears: %r" % (mode, line[:40]))
        check(a.user not in corpus and a.user not in decoded,
              "%s: the user name appears outside smtp.auth.user" % mode)
        # the dialogue
        mine = session_events(evs, ip)
        sess = [e for e in mine if e.get("event_type") == "smtp_session"]
        check(len(sess) == 1, "%s: %d smtp_session events" % (mode, len(sess)))
        sm = sess[0]["smtp"]
        au = sm.get("auth", {})
        if a.mech:
            check(au.get("mechanism") == a.mech, "%s: auth.mechanism %r" % (mode, au.get("mechanism")))
        # without the AUTH line, no auth object is right too
        check((au.get("result"), au.get("code")) == (a.result, a.code) or (not a.mech and not au),
              "%s: auth result/code %r/%r, expected %r/%r" % (mode, au.get("result"), au.get("code"),
                                                              a.result, a.code))
        if not show or a.shown == NONE:
            check("user" not in au, "%s: auth.user %r without --show-auth-user" % (mode, au.get("user")))
        elif a.shown == EXACT or "user" in au:
            check(au.get("user") == a.user.decode(), "%s: auth.user %r, expected %r" %
                  (mode, au.get("user"), a.user.decode()))
        txn = [e for e in mine if e.get("event_type") == "smtp_transaction"]
        check(len(txn) == 1 and txn[0]["smtp"].get("mail_from") == SENDER,
              "%s: the transaction after AUTH is %r" % (mode, [t["smtp"].get("mail_from") for t in txn]))
        kinds = [e["smtp"]["alert"]["kind"] for e in mine if e.get("event_type") == "smtp_alert"]
        bad = [k for k in kinds if "unknown" in k]
        check(not bad, "%s: alert(s) %r: a response was read as a command" % (mode, bad))
        for k in a.alerts:
            check(k in kinds, "%s: no %s alert (alerts %r)" % (mode, k, kinds))
        if "--transcript" in opts or "-T" in opts:
            if "-T" in opts:
                key = (ip, 41000 + i)
                check(key in blocks, "-T: no session block for %s:%d" % key)
                lines = [x[2:] for x in blocks[key]]
            else:
                lines = sm.get("transcript")
                check(isinstance(lines, list), "%s: no transcript array" % mode)
            # the cancel "*" is no secret: shown as is or masked
            masked = sum(1 for x in lines if x == "C: " + MASK or (a.cancel and x == "C: *"))
            lo, hi = a.masks if isinstance(a.masks, tuple) else (a.masks, a.masks)
            check(lo <= masked <= hi, "%s: %d 'C: %s' lines, expected %r: %r" %
                  (mode, masked, MASK, a.masks, lines))
            if a.auth_line:
                check("C: " + a.auth_line in lines, "%s: no 'C: %s' line: %r" % (mode, a.auth_line, lines))
            check("C: MAIL FROM:<%s>" % SENDER in lines and "C: QUIT" in lines,
                  "%s: the commands after AUTH are not shown as commands: %r" % (mode, lines))
        if "--commands" in opts:
            cmds = [(e["smtp"].get("command"), e["smtp"].get("reply", {}).get("code"), e["smtp"].get("argument"))
                    for e in mine if e.get("event_type") == "smtp_command"]
            pairs = [(c, code) for c, code, _ in cmds]
            check(pairs[:2] == [("<greeting>", 220), ("EHLO", 250)] and pairs[-5:] == AFTER_CMDS,
                  "commands around the exchange: %r" % pairs)
            if a.pairs is not None:
                check(pairs[2:-5] == a.pairs, "the exchange paired as %r, expected %r" % (pairs[2:-5], a.pairs))
            for c, code, arg in cmds:
                # the cancel "*" (RFC 4954 4) is no secret and may stay
                check(c != "<auth>" or arg in (MASK, "*"), "an <auth> event with argument %r" % arg)


for _i, _a in enumerate(AUTHS):
    case("auth-" + _a.name)(lambda i=_i, a=_a: check_auth(i, a))


# ---- B. output integrity under hostile bytes ----

B_MODES = [[], ["--commands"], ["--transcript"], ["-T"], ["--show-auth-user"]]
FORGED = (b"\r\n  S: 250 2.0.0 forged\r\n=== session 2  2023-11-14T22:13:20.002000+0000  "
          b"10.9.9.9:4444 -> 198.51.100.25:25 ===\r\n--- end")
PORT_RE = re.compile(rb'"src_port":(\d+)')


class Hostile:
    """A capture of many sessions, each labelled, with what the wire holds."""

    def __init__(self, name):
        self.name = name
        self.p = Pcap()
        self.labels = {}        # client port: label
        self.server_lines = {}  # client port: lines the server sent
        self.wire_lines = {}    # client port: transcript lines before alerts
        self.expect = {}        # client port: (mail_from, recipients) or None
        self.params = {}        # client port: [((key head, tail), (value head, tail))]
        self.path = None

    def add(self, port, label, steps, mail_from, rcpts=1, counts=True):
        play(self.p, ("10.1.1.1", port), steps)
        self.labels[port] = label
        self.server_lines[port] = sum(d.count(b"\n") for side, d, kw in steps if side == "server")
        # transcript lines: one per wire line, a message is its summary and "."
        n, prev = 0, b""
        for side, d, kw in steps:
            n += 2 if side == "client" and prev.startswith(b"354") else d.count(b"\n")
            prev = d if side == "server" else b""
        self.wire_lines[port] = n
        self.expect[port] = (mail_from, rcpts) if counts else None

    def pcap(self):
        if self.path is None:
            self.path = tmp(self.name + ".pcap")
            self.p.write(self.path)
        return self.path


def problems(found, what):
    """Fail with the first few of a list of problems."""
    if found:
        more = " (and %d more)" % (len(found) - 4) if len(found) > 4 else ""
        where = sorted({m.group(1) for m in (re.search(r"\[([^]]*)\]", f) for f in found) if m})
        raise Fail("%s: %d problem(s) in %d session(s) [%s]: %s%s" %
                   (what, len(found), len(where), ", ".join(where[:12]) + (", ..." if len(where) > 12 else ""),
                    "; ".join(found[:4]), more))


def lines_json(h, opts):
    """Every stdout line of a JSON mode (the -o file of -T): [(port, event
    or None)], problems."""
    r = run(h.pcap(), opts)
    data = r.json if "-T" in opts else r.out
    mode = " ".join(opts) or "default"
    found, out = [], []
    if data and not data.endswith(b"\n"):
        found.append("%s: the output does not end with a newline" % mode)
    for line in data.split(b"\n")[:-1]:
        m = PORT_RE.search(line)
        port = int(m.group(1)) if m else None
        label = h.labels.get(port, "no session")
        try:
            ev = strict_lines(line + b"\n", mode)[0]
        except Fail as e:
            found.append("%s [%s]: %s" % (mode, label, e))
            try:   # for the other checks: the event as a lenient reader sees it
                ev = json.loads(line.decode("utf-8", "replace"), strict=False)
            except ValueError:
                ev = None
        out.append((port, ev))
    return out, found


def text_view(h):
    """The -T output: {port: [lines without margin]}, session headers, problems."""
    r = run(h.pcap(), ["-T"])
    found, blocks, cur, headers = [], {}, None, 0
    for n, raw in enumerate(r.out.split(b"\n")[:-1], 1):
        try:
            line = raw.decode("utf-8", "strict")
        except UnicodeDecodeError as e:
            line = raw.decode("utf-8", "replace")
            found.append("-T line %d [%s] is not UTF-8 (%s): %r" %
                         (n, h.labels.get(cur, "?"), e.reason, raw[:120]))
        c = bad_char(line)
        if c is not None:
            found.append("-T line %d [%s] holds U+%04X: %r" % (n, h.labels.get(cur, "?"), ord(c), line[:120]))
        m = HEADER_RE.match(line)
        if line.startswith("=== session"):
            headers += 1
            cur = int(m.group(2)) if m else None
            if cur is not None and cur not in blocks:
                blocks[cur] = []
        elif line.startswith("--- end"):
            cur = None
        elif cur is not None:
            if line[:2] not in ("  ", "! "):
                found.append("-T line %d [%s] has the margin %r" % (n, h.labels.get(cur, "?"), line[:2]))
            blocks[cur].append(line[2:])
        elif line:
            found.append("-T line %d outside any session: %r" % (n, line[:120]))
    if r.out and not r.out.endswith(b"\n"):
        found.append("-T output does not end with a newline")
    return blocks, headers, found


def b_json_strict(h):
    found = []
    for opts in B_MODES:
        found += lines_json(h, opts)[1]
    problems(found, "JSON output")


def b_transcript_clean(h):
    """No control, C1, bidi or line-separator character in a -T line or a
    --transcript entry."""
    found = text_view(h)[2]
    for port, ev in lines_json(h, ["--transcript"])[0]:
        if ev is None or ev.get("event_type") != "smtp_session":
            continue
        for line in ev["smtp"].get("transcript", []):
            c = bad_char(line)
            if c is not None:
                found.append("--transcript [%s] holds U+%04X: %r" % (h.labels.get(port), ord(c), line[:120]))
    problems(found, "transcript")


def b_transcript_lines(h):
    """One S: line per server line on the wire, one header per session, and
    the --transcript array is the -T block without its margins."""
    blocks, headers, margins = text_view(h)
    found = []
    alerts = {}
    for port, ev in lines_json(h, [])[0]:
        # an error reply is its "! " margin, not a "** " line
        if ev is not None and ev.get("event_type") == "smtp_alert" and \
                not ev["smtp"]["alert"]["kind"].startswith("reply_"):
            alerts[port] = alerts.get(port, 0) + 1
    found += [m for m in margins if "margin" in m]
    if headers != len(h.labels):
        found.append("%d '=== session' headers for %d sessions" % (headers, len(h.labels)))
    tr = {port: ev["smtp"].get("transcript") for port, ev in lines_json(h, ["--transcript"])[0]
          if ev is not None and ev.get("event_type") == "smtp_session"}
    for port, label in h.labels.items():
        if port not in blocks:
            found.append("[%s]: no -T block" % label)
            continue
        # what an error reply's code means: from our table, under its reply
        meaning = [i for i, x in enumerate(blocks[port])
                   if re.fullmatch(r"\s+\((\d\.\d{1,3}\.\d{1,3}|\d{3})\) [a-z][^\x00-\x1f]*", x)]
        for i in meaning:
            prev = blocks[port][i - 1] if i else ""
            if not re.match(r"S: [45]\d\d", prev):
                found.append("[%s]: a meaning line not under an error reply: %r after %r" %
                             (label, blocks[port][i][:80], prev[:80]))
        odd = [x for i, x in enumerate(blocks[port])
               if x[:3] not in ("S: ", "C: ", "** ") and i not in meaning]
        if odd:
            found.append("[%s]: a -T line neither S:, C:, ** nor a meaning: %r" % (label, odd[0][:100]))
        want = h.wire_lines[port] + alerts.get(port, 0) + len(meaning)
        if len(blocks[port]) != want:
            found.append("[%s]: %d -T lines, expected %d (wire lines, message summaries, alerts)" %
                         (label, len(blocks[port]), want))
        n = sum(1 for x in blocks[port] if x.startswith("S: "))
        if n != h.server_lines[port]:
            found.append("[%s]: %d S: lines in -T, the server sent %d lines" % (label, n, h.server_lines[port]))
        if port not in tr:
            found.append("[%s]: no smtp_session event with a transcript" % label)
        elif tr[port] != blocks[port]:
            diff = next((i for i, (a, b) in enumerate(zip(tr[port], blocks[port])) if a != b),
                        min(len(tr[port]), len(blocks[port])))
            found.append("[%s]: --transcript (%d entries) differs from -T (%d lines) at %d: %r vs %r" %
                         (label, len(tr[port]), len(blocks[port]), diff, tr[port][diff:diff + 1],
                          blocks[port][diff:diff + 1]))
    problems(found, "transcript lines")


def b_counts(h, base_port):
    """A hostile value changes no event count: as many commands, one session,
    one transaction with the right sender and recipients as the benign one."""
    found = []
    for opts in (["--commands"], []):
        evs = lines_json(h, opts)[0]
        per = {}
        for port, ev in evs:
            if ev is not None and port is not None:
                t = ev.get("event_type")
                if t in ("smtp_session", "smtp_transaction", "smtp_command"):
                    per.setdefault(port, {}).setdefault(t, []).append(ev)
        want = {t: len(v) for t, v in per.get(base_port, {}).items()}
        if want.get("smtp_transaction") != 1:
            raise Fail("the benign session [%s] has %r" % (h.labels[base_port], want))
        for port, exp in h.expect.items():
            if exp is None:
                continue
            got = per.get(port, {})
            n = {t: len(v) for t, v in got.items()}
            if n != want:
                found.append("%s [%s]: %r events, the benign session %r" %
                             (" ".join(opts) or "default", h.labels[port], n, want))
                continue
            t = got["smtp_transaction"][0]["smtp"]
            if t.get("mail_from") != exp[0] or len(t.get("rcpt_to", [])) != exp[1]:
                found.append("[%s]: mail_from %r, %d recipients" %
                             (h.labels[port], t.get("mail_from"), len(t.get("rcpt_to", []))))
    problems(found, "event counts")


def byte_steps(x, helo=False, params=b""):
    """A dialogue with the byte string x in every field that carries wire
    bytes: reply texts, HELO or EHLO, MAIL parameter keys and values, the
    recipient, an unknown verb and the message header fields."""
    msg = (b"From: A" + x + b"b <a@mail.test>\r\nTo: <r@dest.test>\r\n"
           b"Subject: s" + x + b"j\r\nMessage-ID: <m" + x + b"@mail.test>\r\n"
           b"X-Mailer: m" + x + b"r\r\nReceived: from h" + x + b"o by mx; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
           b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
           b"Content-Type: text/pl" + x + b"ain; charset=\"u" + x + b"8\"\r\n\r\nbody\r\n.\r\n")
    return [S(b"220 mx" + x + b" ESMTP\r\n"),
            C(b"HELO h" + x + b"o.test\r\n") if helo else C(b"EHLO h" + x + b"o.test\r\n"),
            S(b"250 mx.test greets h" + x + b"o\r\n") if helo else
            S(b"250-mx.test greets h" + x + b"o\r\n250-SIZE 1000\r\n250-X" + x + b"EXT\r\n250 8BITMIME\r\n"),
            C(b"MAIL FROM:<s@m.test> K" + x + b"Y=v" + x + b"w" + params + b"\r\n"),
            S(b"250 2.1.0 o" + x + b"k\r\n"),
            C(b"RCPT TO:<r" + x + b"@d.test>\r\n"),
            S(b"250 2.1.5 o" + x + b"k\r\n"),
            C(b"XV" + x + b"RB arg" + x + b"\r\n"),
            S(b"500 5.5.2 unkn" + x + b"own\r\n"),
            C(b"DATA\r\n"),
            S(b"354 g" + x + b"o\r\n"),
            C(msg),
            S(b"250 2.0.0 q" + x + b"d\r\n"),
            C(b"QUIT\r\n"),
            S(b"221 b" + x + b"ye\r\n")]


BYTES = None


def bytes_capture():
    """One session per byte value 0x00-0xff (client port 30000 + value); odd
    values say HELO, even ones EHLO."""
    global BYTES
    if BYTES is None:
        BYTES = Hostile("bytes")
        for v in range(256):
            # CR and LF change the line structure: only the integrity checks
            BYTES.add(30000 + v, "byte 0x%02x" % v, byte_steps(bytes([v]), helo=v % 2), "s@m.test",
                      counts=v not in (0x0a, 0x0d))
            if v not in b" \t=\r\n":   # these split or end the parameter
                BYTES.params[30000 + v] = [(("K", "Y"), ("v", "w"))]
        BYTES.add(30256, "MAIL parameters X\\xff\\xfeKEY=1 K\\x00=\\x01",
                  byte_steps(b"x", params=b" X\xff\xfeKEY=1 K\x00=\x01"), "s@m.test")
        BYTES.add(30257, "MAIL parameters K\\x00Q=1 K\\x00R=2",
                  byte_steps(b"x", params=b" K\x00Q=1 K\x00R=2"), "s@m.test")
        BYTES.params[30257] = [(("K", "Y"), ("v", "w")), (("K", "Q"), ("1", "")), (("K", "R"), ("2", ""))]
    return BYTES


def b_mail_params(h):
    """A byte inside a MAIL parameter keeps the parameter whole: one key
    K?Y with the value v?w (escaped as it may be), nothing cut at a NUL; two
    keys that differ after a NUL stay two keys (a value given whole, with
    no byte inside it, as ("1", ""), is that value)."""
    found = []
    for port, ev in lines_json(h, [])[0]:
        if ev is None or ev.get("event_type") != "smtp_transaction" or port not in h.params:
            continue
        want = h.params[port]
        got = ev["smtp"].get("mail_params")
        if not isinstance(got, dict) or len(got) != len(want) or not all(
                any(k.startswith(wk[0]) and k.endswith(wk[1]) and len(k) > len(wk[0] + wk[1]) and
                    isinstance(v, str) and v.startswith(wv[0]) and v.endswith(wv[1]) and
                    (len(v) > len(wv[0] + wv[1]) or not wv[1]) for k, v in got.items())
                for wk, wv in want):
            found.append("[%s]: mail_params %r" % (h.labels[port], got))
    problems(found, "MAIL parameters")


case("bytes-json-strict")(lambda: b_json_strict(bytes_capture()))
case("bytes-transcript-clean")(lambda: b_transcript_clean(bytes_capture()))
case("bytes-transcript-lines")(lambda: b_transcript_lines(bytes_capture()))
case("bytes-event-counts")(lambda: b_counts(bytes_capture(), 30000 + ord("x")))
case("bytes-mail-params")(lambda: b_mail_params(bytes_capture()))


def qp(b):
    """RFC 2047 Q encoding of every byte."""
    return b"".join(b"=%02X" % c for c in b)


PAYLOADS = [
    ("plain", b"x"), ("cr", b"\r"), ("lf", b"\n"), ("crlf", b"\r\n"), ("nul", b"\0"),
    ("esc", b"\x1b[2J\x1b]0;t\x07"), ("del", b"\x7f"), ("nel", "\u0085".encode()),
    ("csi", "\u009b31m".encode()), ("rlo", "\u202e".encode()), ("lri", "\u2066".encode()),
    ("lrm", "\u200e\u061c".encode()), ("ls", "\u2028\u2029".encode()),
    ("invalid-utf8", b"\xff\xfe\xc3(\xed\xa0\x80\xf4\x90\x80\x80"), ("forged", FORGED),
]


def decoded_message(p, latin1=False):
    """A message whose header fields DECODE to p: encoded words (B and Q),
    RFC 2231 parameters; p without CR and LF also raw."""
    cs = b"iso-8859-1" if latin1 else b"utf-8"
    raw = p.replace(b"\r", b"").replace(b"\n", b"")
    ew_b = b"=?" + cs + b"?b?" + b64(p) + b"?="
    ew_q = b"=?" + cs + b"?q?" + qp(p) + b"?="
    pct = urllib.parse.quote_from_bytes(p + b"report.pdf").encode()
    bnd = b"bnd" + raw.replace(b'"', b"")
    return (b"From: " + ew_b + b" <from@mail.test>\r\n"
            b"To: " + ew_q + b" <rcpt@dest.test>\r\n"
            b"Subject: a " + ew_b + b" b " + ew_q + b" c" + raw + b"\r\n"
            b"Message-ID: <id" + raw + b"@mail.test>\r\n"
            b"X-Mailer: mailer " + ew_b + b" " + raw + b"\r\n"
            b"Received: from h" + raw + b" by mx; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
            b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"" + bnd + b"\"\r\n\r\n"
            b"--" + bnd + b"\r\n"
            b"Content-Type: text/pl" + raw + b"ain; charset=\"u" + raw + b"8\"\r\n\r\nhello\r\n"
            b"--" + bnd + b"\r\n"
            b"Content-Type: application/octet-stream; name=\"" + ew_b + b".exe\"\r\n"
            b"Content-Disposition: attachment; filename*=" + cs + b"''" + pct + b"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\naGVsbG8K\r\n"
            b"--" + bnd + b"\r\n"
            b"Content-Type: text/plain\r\n"
            b"Content-Disposition: attachment; filename=\"" + ew_b + b".txt\"\r\n\r\nx\r\n"
            b"--" + bnd + b"--\r\n.\r\n")


def decoded_steps(msg):
    return [S(BANNER), C(b"EHLO client.test\r\n"), S(NOAUTH_EXT),
            C(b"MAIL FROM:<from@mail.test>\r\n"), S(b"250 2.1.0 Ok\r\n"),
            C(b"RCPT TO:<rcpt@dest.test>\r\n"), S(b"250 2.1.5 Ok\r\n"),
            C(b"DATA\r\n"), S(b"354 go ahead\r\n"), C(msg), S(b"250 2.0.0 Ok\r\n"),
            C(b"QUIT\r\n"), S(b"221 2.0.0 Bye\r\n")]


DECODED = None


def decoded_capture():
    """One session per payload, as UTF-8 words and as Latin-1 words (which
    decode 0x80-0x9f to C1 controls)."""
    global DECODED
    if DECODED is None:
        DECODED = Hostile("decoded")
        port = 31000
        for name, p in PAYLOADS:
            DECODED.add(port, name, decoded_steps(decoded_message(p)), "from@mail.test")
            port += 1
        for name, p in [("latin1-c1", b"\x85\x9b\x1b\x7f\x80"), ("latin1-all", bytes(range(256)))]:
            DECODED.add(port, name, decoded_steps(decoded_message(p, latin1=True)), "from@mail.test")
            port += 1
    return DECODED


def d_subject_whole(h):
    """A decoded byte (a NUL among them) never cuts the Subject: "a <p> b
    <p> c<p>" keeps its " b " and " c" whatever p decodes to."""
    found = []
    for port, ev in lines_json(h, [])[0]:
        if ev is None or ev.get("event_type") != "smtp_transaction":
            continue
        subject = ev.get("email", {}).get("subject", "")
        if not (subject.startswith("a ") and " b " in subject and " c" in subject):
            found.append("[%s]: subject %r" % (h.labels[port], subject))
    problems(found, "Subject")


case("decoded-json-strict")(lambda: b_json_strict(decoded_capture()))
case("decoded-subject-whole")(lambda: d_subject_whole(decoded_capture()))
case("decoded-transcript-clean")(lambda: b_transcript_clean(decoded_capture()))
case("decoded-transcript-lines")(lambda: b_transcript_lines(decoded_capture()))
case("decoded-event-counts")(lambda: b_counts(decoded_capture(), 31000))


# ---- main ----


@case("long-reply-said")
def _():
    """A server reply longer than the decoder keeps (8 KB): -T shows its
    start, then says exactly how many of its lines it does not show; the
    next dialogue lines are there."""
    pcap = Pcap()
    c = Conn(pcap, client=("192.0.2.99", 32000), server=SERVER)
    c.handshake()
    c.server(b"220 mx ESMTP\r\n")
    c.client(b"EHLO client.test\r\n")
    c.server(b"".join(b"250-EXT%03d " % i + b"y" * 40 + b"\r\n" for i in range(300)) +
             b"250 LAST\r\n")
    c.client(b"QUIT\r\n")
    c.server(b"221 2.0.0 Bye\r\n")
    c.close()
    path = tmp("long-reply.pcap")
    pcap.write(path)
    out = run(path, ["-T"]).out.decode()
    shown = sum(1 for line in out.splitlines() if line[2:5] == "S: " and "EXT" in line)
    note = "! ** %d more lines of this reply not kept" % (301 - shown)
    check(0 < shown < 301, "%d lines of the long reply shown" % shown)
    check(note in out.splitlines(), "no line %r in:\n%s" % (note, out[-400:]))
    check("  C: QUIT" in out and "  S: 221 2.0.0 Bye" in out, "the dialogue after it is lost")


@case("starttls-not-tls")
def _():
    """STARTTLS accepted, then the client goes on in clear (a stripping
    middlebox): starttls_not_tls, the dialogue decoded on, tls.cleartext,
    and -T shows the lines, not a TLS summary."""
    pcap = Pcap()
    c = Conn(pcap, client=("192.0.2.98", 32001), server=SERVER)
    c.handshake()
    c.server(b"220 mx ESMTP\r\n")
    c.client(b"EHLO client.test\r\n")
    c.server(b"250-mx\r\n250 STARTTLS\r\n")
    c.client(b"STARTTLS\r\n")
    c.server(b"220 2.0.0 Ready to start TLS\r\n")
    c.client(b"EHLO client.test\r\n")
    c.server(b"250-mx\r\n250 8BITMIME\r\n")
    c.client(b"MAIL FROM:<a@client.test>\r\n")
    c.server(b"250 2.1.0 Ok\r\n")
    c.client(b"QUIT\r\n")
    c.server(b"221 2.0.0 Bye\r\n")
    c.close()
    path = tmp("starttls-not-tls.pcap")
    pcap.write(path)
    events = [json.loads(x) for x in run(path, []).out.splitlines()]
    kinds = [e["smtp"]["alert"]["kind"] for e in events if e["event_type"] == "smtp_alert"]
    check("starttls_not_tls" in kinds, "no starttls_not_tls alert: %s" % kinds)
    txn = [e for e in events if e["event_type"] == "smtp_transaction"]
    check(len(txn) == 1 and txn[0]["smtp"]["mail_from"] == "a@client.test",
          "the MAIL after the stripped STARTTLS is lost: %s" % txn)
    sess = [e for e in events if e["event_type"] == "smtp_session"][0]["smtp"]
    check(sess["tls"].get("cleartext") is True and sess["commands"] == 5,
          "session: %s" % sess["tls"])
    out = run(path, ["-T"]).out.decode()
    check("  C: MAIL FROM:<a@client.test>" in out and "[TLS:" not in out,
          "-T:\n%s" % out)


def main():
    global BIN, TMP
    BIN, TMP = SUITE.start()
    # optional case names after the binary, for debugging
    return SUITE.run(only=sys.argv[2:]) if BIN else 1


if __name__ == "__main__":
    sys.exit(main())
