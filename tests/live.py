#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Live capture test: smtpscope -i lo watching a real SMTP exchange with a private Postfix."""

# usage: tests/live.py [SMTPSCOPE]   (default build/smtpscope-san)
#
# Starts a private Postfix (tools/postfix-private.sh) on 127.0.0.1 and a free
# port, never 25, so a system Postfix is neither needed nor disturbed; starts
# "smtpscope -i lo" restricted to that port; drives one SMTP session with
# smtplib (EHLO, MAIL, an accepted and a relay-denied RCPT, DATA with
# dot-stuffed lines, QUIT); stops smtpscope with SIGTERM and checks the events
# against what the client sent and received. Prints "PASS live/<name>" or
# "FAIL live/<name>: <why>" per group of facts, or one "SKIP live/postfix-lo:
# <why>" line when the machine cannot run it (not root, no packet capture, no
# Postfix); exits 1 if any failed.
#
# Then the sensor as installed (live/service-*): "make install DESTDIR=<tmp>
# PREFIX=/usr/local", systemd-analyze verify on the installed unit, and the
# installed (release) binary run as the unit runs it, under setpriv, as an
# unprivileged user with only the unit's capabilities, capturing two Postfix
# sessions on either side of a logrotate-style rotation (see run_service).
# Postfix, the processes, the throwaway user and the temporary directory are
# removed at exit, on failure and on SIGTERM too.

import grp
import hashlib
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.dont_write_bytecode = True  # leave no __pycache__ in tests/
from livecap import free_port, packet_socket_open  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PRIVATE = ROOT / "tools" / "postfix-private.sh"
SANITIZER_RE = re.compile(r"(Address|Leak|UndefinedBehavior|Memory|Thread)Sanitizer|runtime error:")
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
TIMEOUT = 30

HELO = "client.test"
SENDER = "alice@client.test"
ACCEPTED = "bob@example.test"             # a virtual mailbox of the instance
DENIED = "mallory@elsewhere.test"         # not ours: 554 5.7.1 Relay access denied
# CRLF line ends, so smtplib sends it as it is, dot-stuffing the three lines
# that start with a dot (the one that is a lone "." too)
MESSAGE = (b"From: Alice <alice@client.test>\r\n"
           b"To: Bob <bob@example.test>\r\n"
           b"Subject: Live capture through Postfix\r\n"
           b"Message-ID: <live-postfix@client.test>\r\n"
           b"\r\n"
           b"Hello Bob,\r\n"
           b".this line starts with a dot\r\n"
           b"..and this one with two\r\n"
           b".\r\n"
           b"Alice\r\n")


class Fail(Exception):
    pass


class Skip(Exception):
    pass


class signals_held:
    """Holds SIGTERM and SIGINT back while cleaning up, so that a signal arriving then (make
    interrupted) cannot cut the cleanup short; they are acted on once it is done."""

    HELD = {signal.SIGTERM, signal.SIGINT}

    def __enter__(self):
        self.old = signal.pthread_sigmask(signal.SIG_BLOCK, self.HELD)

    def __exit__(self, *exc):
        signal.pthread_sigmask(signal.SIG_SETMASK, self.old)


def check(cond, why):
    if not cond:
        raise Fail(why)


class CountingSMTP(smtplib.SMTP):
    """smtplib.SMTP that counts the bytes it sends and reads."""

    sent = 0
    received = 0

    def send(self, s):
        if isinstance(s, str):
            s = s.encode(self.command_encoding)
        self.sent += len(s)
        super().send(s)

    def getreply(self):
        if self.file is None and self.sock is not None:
            self.file = _CountingReader(self.sock.makefile("rb"), self)
        return super().getreply()


class _CountingReader:
    def __init__(self, f, owner):
        self.f, self.owner = f, owner

    def readline(self, size=-1):
        line = self.f.readline(size)
        self.owner.received += len(line)
        return line

    def close(self):
        self.f.close()


class EventStream:
    """Reads smtpscope's unix-stream sink, to know when a session's event was written."""

    def __init__(self, path):
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(1)
        self.srv.settimeout(TIMEOUT)
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            conn, _ = self.srv.accept()
        except OSError:
            return
        with conn, conn.makefile("rb") as f:
            for line in f:
                with self.cond:
                    self.lines.append(line)
                    self.cond.notify_all()

    def wait_session(self, client_port, timeout):
        """True once the smtp_session event of client_port came through."""
        def seen():
            for line in self.lines:
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("event_type") == "smtp_session" and ev.get("src_port") == client_port:
                    return True
            return False
        with self.cond:
            return self.cond.wait_for(seen, timeout)

    def close(self):
        self.srv.close()
        self.thread.join(5)


def postfix_cmd(*args):
    return subprocess.run([str(PRIVATE)] + [str(a) for a in args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=60).stdout.decode("utf-8", "replace")


def postfix_stop(instance):
    """Stop the private Postfix; say so if it did not stop as it should."""
    stopped = postfix_cmd("stop", instance)
    if "stopping" not in stopped:
        print("live: tools/postfix-private.sh stop: %s" % stopped.strip()[:300], flush=True)


def postconf(conf, name):
    return subprocess.run(["postconf", "-c", conf, "-xh", name], stdout=subprocess.PIPE,
                          check=True, timeout=TIMEOUT).stdout.decode().strip()


def drive_session(port, message=MESSAGE):
    """One SMTP session with smtplib against the private Postfix on port; what the client saw."""
    seen = {}
    client = CountingSMTP(timeout=TIMEOUT)
    seen["greeting"] = client.connect("127.0.0.1", port)
    seen["client_port"] = client.sock.getsockname()[1]
    seen["ehlo"] = client.ehlo(HELO)
    seen["mail"] = client.mail(SENDER)
    seen["rcpt"] = [(ACCEPTED, client.rcpt(ACCEPTED)), (DENIED, client.rcpt(DENIED))]
    seen["data"] = client.data(message)
    seen["quit"] = client.quit()
    seen["sent"], seen["received"] = client.sent, client.received
    return seen


def run_exchange(binary, tmp):
    """Capture one session with Postfix; returns (events, what the client saw)."""
    port = free_port()
    sock = os.path.join(tmp, "events.sock")
    stream = EventStream(sock)
    proc = subprocess.Popen([binary, "-i", "lo", "--commands", "--ports", str(port),
                             "-o", "-", "-o", "unix-stream:" + sock, "tcp port %d" % port],
                            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    instance = os.path.join(tmp, "postfix")
    started = False
    try:
        deadline = time.time() + 10
        while proc.poll() is None and not packet_socket_open(proc.pid) and time.time() < deadline:
            time.sleep(0.05)
        if proc.poll() is not None:
            err = proc.stderr.read().decode("utf-8", "replace")
            if (re.search(r"permission denied|operation not permitted|no such interface", err, re.I)
                    and not SANITIZER_RE.search(err)):
                raise Skip("cannot capture on lo here: %s" % err.strip()[:120])
            raise Fail("smtpscope exited early: exit %s, stderr %r" % (proc.returncode, err[:300]))
        check(packet_socket_open(proc.pid), "smtpscope opened no packet socket within 10 s")

        started = True
        out = postfix_cmd("start", instance, port)
        check(re.search(r"listening on 127\.0\.0\.1:%d\b" % port, out),
              "tools/postfix-private.sh start failed: %r" % out[-600:])
        conf = os.path.join(instance, "conf")
        seen = {"port": port, "banner_cf": postconf(conf, "smtpd_banner"),
                "myhostname": postconf(conf, "myhostname")}

        seen.update(drive_session(port))

        # smtp_session is written once the capture has the closing packets
        seen["session_event_live"] = stream.wait_session(seen["client_port"], 15)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=TIMEOUT)
        err = err.decode("utf-8", "replace")
    finally:
        with signals_held():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
            stream.close()
            if started:
                postfix_stop(instance)

    m = SANITIZER_RE.search(err)
    check(not m, "sanitizer report: %s" % err[m.start():m.start() + 300] if m else "")
    check(proc.returncode == 0 and err == "",
          "smtpscope: exit %s, stderr %r" % (proc.returncode, err[:300]))
    events = []
    for n, line in enumerate(out.decode("utf-8").splitlines(), 1):
        try:
            events.append(json.loads(line))
        except ValueError as e:
            raise Fail("line %d is not JSON (%s): %r" % (n, e, line[:120]))
    return events, seen


def reply(code_msg):
    """smtplib's (code, b"X.Y.Z text") as the decoder's {code, enhanced, text}."""
    code, msg = code_msg
    enh, _, text = msg.decode().partition(" ")
    return {"code": code, "enhanced": enh, "text": text}


def checks(events, seen):
    """[(name, fn)]: each group of facts a case of its own."""
    of = lambda t: [e for e in events if e.get("event_type") == t]  # noqa: E731
    sessions, txns = of("smtp_session"), of("smtp_transaction")
    commands = of("smtp_command")
    ehlo_lines = seen["ehlo"][1].decode().split("\n")

    def one(lst, what):
        check(len(lst) == 1, "%d %s events, expected 1" % (len(lst), what))
        return lst[0]

    def envelope():
        st = events[-1].get("stats") if events else None
        check(st is not None and len(of("stats")) == 1, "the last event is not the one stats event")
        check(st["sessions"] == 1 and st["gaps"] == 0, "stats: sessions %s, gaps %s"
              % (st["sessions"], st["gaps"]))
        for e in events[:-1]:
            got = (e["src_ip"], e["src_port"], e["dest_ip"], e["dest_port"], e["proto"])
            check(got == ("127.0.0.1", seen["client_port"], "127.0.0.1", seen["port"], "TCP"),
                  "%s event of flow %r" % (e["event_type"], got))
        check(seen["session_event_live"],
              "no smtp_session event on the unix-stream sink within 15 s of QUIT")

    def banner():
        s = one(sessions, "smtp_session")["smtp"]
        code, text = seen["greeting"]
        check(code == 220, "Postfix greeted with %r" % (seen["greeting"],))
        check(s.get("banner") == text.decode() == seen["banner_cf"],
              "banner %r; the client read %r, smtpd_banner is %r"
              % (s.get("banner"), text, seen["banner_cf"]))
        check(seen["myhostname"] in s["banner"], "banner %r lacks myhostname %r"
              % (s["banner"], seen["myhostname"]))
        g = [c["smtp"]["reply"] for c in commands if c["smtp"]["command"] == "<greeting>"]
        check([r["code"] for r in g] == [220], "<greeting> replies %r" % g)

    def ehlo():
        s = one(sessions, "smtp_session")["smtp"]
        check(seen["ehlo"][0] == 250 and ehlo_lines[0] == seen["myhostname"],
              "EHLO answered %r" % (seen["ehlo"],))
        check("PIPELINING" in ehlo_lines[1:], "Postfix did not offer PIPELINING: %r" % ehlo_lines)
        check(s.get("helo") == HELO, "helo %r" % s.get("helo"))
        check(s.get("extensions") == ehlo_lines[1:], "extensions %r, Postfix sent %r"
              % (s.get("extensions"), ehlo_lines[1:]))
        check(s.get("tls") == {"offered": "STARTTLS" in ehlo_lines, "requested": False,
                               "accepted": False}, "tls %r" % s.get("tls"))

    def envelope_mail():
        t = one(txns, "smtp_transaction")["smtp"]
        check(seen["mail"] == (250, b"2.1.0 Ok"), "MAIL answered %r" % (seen["mail"],))
        check(t.get("helo") == HELO and t.get("mail_from") == SENDER and
              t.get("mail_reply") == reply(seen["mail"]),
              "helo %r, mail_from %r, mail_reply %r" % (t.get("helo"), t.get("mail_from"),
                                                        t.get("mail_reply")))

    def recipients():
        t = one(txns, "smtp_transaction")["smtp"]
        (a, ra), (d, rd) = seen["rcpt"]
        check(ra[0] == 250 and rd[0] == 554 and rd[1].startswith(b"5.7.1 ") and
              b"Relay access denied" in rd[1], "Postfix answered RCPTs %r" % (seen["rcpt"],))
        want = [dict(address=addr, **reply(r)) for addr, r in seen["rcpt"]]
        check(t.get("rcpt_to") == want, "rcpt_to %r, expected %r" % (t.get("rcpt_to"), want))
        check(t.get("accepted_rcpts") == 1, "accepted_rcpts %r" % t.get("accepted_rcpts"))
        alerts = [e["smtp"] for e in of("smtp_alert") if e["smtp"]["alert"]["kind"] == "reply_5xx"]
        check([(a.get("command"), a.get("reply", {}).get("code")) for a in alerts] == [("RCPT", 554)],
              "reply_5xx alerts %r" % alerts)

    def message():
        t = one(txns, "smtp_transaction")
        s = t["smtp"]
        code, text = seen["data"]
        m = re.fullmatch(r"2\.0\.0 Ok: queued as ([0-9A-Za-z]+)", text.decode())
        check(code == 250 and m, "end of DATA answered %r" % (seen["data"],))
        check(s.get("data_reply") == reply(seen["data"]) and s.get("queue_id") == m.group(1) and
              s.get("status") == "queued" and s.get("body") == "data",
              "data_reply %r, queue_id %r, status %r, body %r"
              % (s.get("data_reply"), s.get("queue_id"), s.get("status"), s.get("body")))
        check(s.get("size") == len(MESSAGE) and
              s.get("sha256") == hashlib.sha256(MESSAGE).hexdigest() and "gap" not in s,
              "size %r sha256 %r, expected %d %s (dot-stuffing removed)"
              % (s.get("size"), s.get("sha256"), len(MESSAGE), hashlib.sha256(MESSAGE).hexdigest()))
        em = t.get("email", {})
        check(em.get("subject") == "Live capture through Postfix" and
              em.get("local_id") == m.group(1), "email subject %r local_id %r"
              % (em.get("subject"), em.get("local_id")))

    def dialogue():
        got = [(c["smtp"]["command"], c["smtp"]["reply"]["code"]) for c in commands]
        want = [("<greeting>", 220), ("EHLO", 250), ("MAIL", 250), ("RCPT", 250), ("RCPT", 554),
                ("DATA", 354), ("<message>", 250), ("QUIT", 221)]
        check(got == want, "smtp_command events %r, expected %r" % (got, want))

    def close():
        s = one(sessions, "smtp_session")["smtp"]
        check(seen["quit"][0] == 221, "QUIT answered %r" % (seen["quit"],))
        check(s.get("close") == "quit" and s.get("transactions") == 1 and s.get("commands") == 6,
              "close %r, transactions %r, commands %r"
              % (s.get("close"), s.get("transactions"), s.get("commands")))
        check(s.get("replies") == {"2xx": 6, "3xx": 1, "4xx": 0, "5xx": 1}, "replies %r"
              % s.get("replies"))
        check(s.get("bytes") == {"client": seen["sent"], "server": seen["received"]},
              "bytes %r, the client sent %d and read %d"
              % (s.get("bytes"), seen["sent"], seen["received"]))

    return [("postfix-envelope", envelope), ("postfix-banner", banner), ("postfix-ehlo", ehlo),
            ("postfix-mail-from", envelope_mail), ("postfix-recipients", recipients),
            ("postfix-message", message), ("postfix-commands", dialogue),
            ("postfix-close", close)]


# ---------------------------------------------------------------------------
# The sensor as installed: make install, the systemd unit, logrotate.
#
# No systemd runs as PID 1 here (nor in CI), so "systemctl start" cannot be
# used. Instead the unit is checked by systemd-analyze verify, and then the
# installed binary is run as the unit would run it: its ExecStart (with the
# variables of the installed /etc/default/smtpscope), its User/Group, its
# AmbientCapabilities, CapabilityBoundingSet, NoNewPrivileges and UMask,
# applied by setpriv(1); its log in a directory owned by that user, as
# LogsDirectory= creates it. Everything is read from the installed files, so
# the test follows them. What systemd alone does (ProtectSystem=, PrivateTmp=,
# Restart=) is not exercised; the one consequence checked is that every file
# the unit writes lies under its LogsDirectory, the only place ProtectSystem=
# strict leaves writable.

PREFIX = "/usr/local"
UNIT = "smtpscope.service"
UNIT_PATH = PREFIX + "/lib/systemd/system/" + UNIT
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# linux/capability.h: CAP_<NAME> is the bit of its index
CAPS = ("chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap "
        "linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner "
        "sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice "
        "sys_resource sys_time sys_tty_config mknod lease audit_write audit_control setfcap "
        "mac_override mac_admin syslog wake_alarm block_suspend audit_read perfmon bpf "
        "checkpoint_restore").split()


def make_install(dest):
    """make install DESTDIR=dest PREFIX=/usr/local, driven as tests/docs.sh does."""
    r = subprocess.run(["make", "-s", "install", "DESTDIR=" + dest, "PREFIX=" + PREFIX],
                       cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    out = r.stdout.decode("utf-8", "replace")
    check(r.returncode == 0, "make install DESTDIR=%s PREFIX=%s: exit %d: %s"
          % (dest, PREFIX, r.returncode, out[-300:]))
    for f in (UNIT_PATH, PREFIX + "/sbin/smtpscope", "/etc/logrotate.d/smtpscope",
              "/etc/default/smtpscope"):
        check(os.path.isfile(dest + f), "make install did not install %s" % f)


def verify_unit(dest, tmp):
    """("PASS"|"FAIL"|"SKIP", why) of systemd-analyze verify on the installed unit."""
    sa = shutil.which("systemd-analyze")
    if not sa:
        return "SKIP", "systemd-analyze is not installed (it comes with systemd)"
    # verify checks that ExecStart's program exists and is executable, and the
    # installed unit names /usr/local/sbin/smtpscope, which exists only under
    # DESTDIR here: so a copy of the installed unit, with that one path
    # rewritten to DESTDIR's, is verified (same file name, so same unit name).
    # (--root=DESTDIR is no way out: that root has no sysinit.target, no
    # /bin/kill.) verify also runs man for Documentation=man:smtpscope(8):
    # MANPATH is the installed man directory, so that checks the man page too.
    text = Path(dest + UNIT_PATH).read_text()
    copy, n = re.subn(r"^(ExecStart=[-@:+!]*)" + re.escape(PREFIX + "/sbin/"),
                      lambda m: m.group(1) + dest + PREFIX + "/sbin/", text, flags=re.M)
    if n != 1:
        return "FAIL", "the installed unit's ExecStart does not run %s/sbin/..." % PREFIX
    vdir = os.path.join(tmp, "verify")
    os.mkdir(vdir)
    with open(os.path.join(vdir, UNIT), "w") as f:
        f.write(copy)
    r = subprocess.run([sa, "verify", os.path.join(vdir, UNIT)],
                       env=dict(os.environ, MANPATH=dest + PREFIX + "/share/man",
                                SYSTEMD_LOG_COLOR="0", SYSTEMD_PAGER="cat"),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    lines = [ln.strip() for ln in r.stdout.decode("utf-8", "replace").splitlines() if ln.strip()]
    ours = [ln for ln in lines if "smtpscope" in ln]
    if ours:
        return "FAIL", "systemd-analyze verify (exit %d): %s" % (r.returncode, " | ".join(ours))
    if r.returncode != 0 and not lines:
        return "FAIL", "systemd-analyze verify: exit %d and no message" % r.returncode
    if r.returncode != 0:   # only other units (system ones it loaded) complained
        return "PASS", "(exit %d, about other units only: %s)" % (r.returncode, lines[0][:120])
    return "PASS", ""


def read_unit(path):
    """{section: {key: [each value in order]}} of a unit file; continuation lines joined."""
    sections, cur = {}, {}
    for line in re.sub(r"\\\n", " ", Path(path).read_text()).splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        m = re.fullmatch(r"\[(.+)\]", line)
        if m:
            cur = sections.setdefault(m.group(1), {})
            continue
        key, _, value = line.partition("=")
        cur.setdefault(key.strip(), []).append(value.strip())
    return sections


def unit_caps(values):
    """The capability names (net_raw, ...) of the AmbientCapabilities= or similar lines."""
    caps = []
    for v in values or []:
        if not v:
            caps = []       # an empty assignment resets the list
            continue
        check(not v.startswith("~"), "inverted capability list %r: not handled by this test" % v)
        caps += [c.lower()[4:] if c.upper().startswith("CAP_") else c.lower() for c in v.split()]
    for c in caps:
        check(c in CAPS, "unknown capability %r in the unit" % c)
    return sorted(set(caps), key=CAPS.index)


def capmask(caps):
    return sum(1 << CAPS.index(c) for c in caps)


def read_env_file(path):
    """KEY=VALUE lines of an EnvironmentFile (comments, blank lines and quotes as systemd)."""
    env = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        if sep:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            env[key.strip()] = value
    return env


def expand_exec(line, env):
    """ExecStart= as argv: "$VAR" alone splits into words, "${VAR}" is one (systemd.service(5))."""
    check(not re.match(r"[@:+!]", line), "ExecStart prefix %r: not handled by this test" % line[:2])
    argv = []
    for w in shlex.split(line.lstrip("-")):
        m = re.fullmatch(r"\$(\w+)", w)
        if m:
            argv += env.get(m.group(1), "").split()
        else:
            argv.append(re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), w))
    return argv


def signal_of(text, what):
    """The signal a kill(1) or "systemctl kill" command line sends."""
    m = (re.search(r"systemctl\b.*\bkill\b.*?(?:\s-s\s*|--signal[= ])(?:SIG)?(\w+)", text) or
         re.search(r"\bkill\s+(?:-s\s+|-)(?:SIG)?([A-Z]\w*)", text))
    if m:
        name = m.group(1).upper()
    elif re.search(r"systemctl\b.*\bkill\b", text):
        name = "TERM"       # systemctl kill's default
    else:
        raise Fail("%s: no signal found in %r" % (what, text.strip()))
    try:
        return signal.Signals["SIG" + name]
    except KeyError:
        raise Fail("%s: unknown signal %r" % (what, name))


def read_logrotate(path):
    """(log path, {directive: [words]}, postrotate script) of a one-stanza logrotate snippet."""
    text = Path(path).read_text()
    m = re.search(r"^[ \t]*(/\S+)[ \t]*\{(.*?)^[ \t]*\}", text, re.M | re.S)
    check(m, "%s: no stanza found" % path)
    body = m.group(2)
    post = re.search(r"^\s*postrotate\s*$(.*?)^\s*endscript", body, re.M | re.S)
    outside = body[:post.start()] + body[post.end():] if post else body
    directives = {}
    for line in outside.splitlines():
        words = line.split()
        if words and not words[0].startswith("#"):
            directives[words[0]] = words[1:]
    return m.group(1), directives, post.group(1) if post else ""


def service_user(name, cleanup):
    """The pwd entry to run as: the unit's User= if it exists here, else a throwaway system
    user (useradd --system, a name of its own so parallel runs stay apart, userdel at the
    end), else nobody; and a line saying which."""
    try:
        return pwd.getpwnam(name), "the unit's user %s" % name
    except KeyError:
        pass
    tmpname = "%s-t%d" % (name[:20], os.getpid())
    def userdel():
        r = subprocess.run(["userdel", tmpname], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            print("live: userdel %s: %s" % (tmpname, r.stdout.decode("utf-8", "replace").strip()),
                  flush=True)

    if shutil.which("useradd") and shutil.which("userdel"):
        with signals_held():    # created, then certainly removed
            r = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir",
                                "/nonexistent", "--shell", "/usr/sbin/nologin", "--user-group",
                                tmpname], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=60)
            if r.returncode == 0:
                cleanup.append(userdel)
        if r.returncode == 0:
            return pwd.getpwnam(tmpname), "throwaway system user %s (no user %s here)" % (
                tmpname, name)
    return pwd.getpwnam("nobody"), "nobody (no user %s here, useradd failed)" % name


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return {k: v.split() for k, _, v in (line.partition(":") for line in f)}


def fd_inodes(pid):
    """(st_dev, st_ino) of every file pid holds open."""
    got = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            st = os.stat("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        got.add((st.st_dev, st.st_ino))
    return got


def log_events(path, strict):
    """The events in path; strict: every line whole JSON and the file ends with a newline
    (else a last line still being written is left for later)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        if strict:
            raise Fail("%s is missing" % path)
        return []
    lines = data.split(b"\n")
    tail = lines.pop()
    if strict:
        check(tail == b"", "%s does not end with a newline: %r" % (path, tail[-80:]))
    events = []
    for n, line in enumerate(lines, 1):
        try:
            events.append(json.loads(line))
        except ValueError as e:
            raise Fail("%s line %d is not whole JSON (%s): %r" % (path, n, e, line[:120]))
    return events


def sessions_of(events, client_port):
    return [e for e in events if e.get("src_port") == client_port and
            e.get("event_type") in ("smtp_session", "smtp_transaction")]


def wait_for(cond, timeout, step=0.1):
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            return cond()
        time.sleep(step)
    return True


def run_service(dest, tmp, report):
    """Runs the installed smtpscope as its unit would; report(status, name, why) per case.
    Raises Skip when it cannot run here; cleans up after itself, on failure too."""
    if not shutil.which("setpriv"):
        raise Skip("setpriv (util-linux) is not installed")
    unit = read_unit(dest + UNIT_PATH)
    svc = unit.get("Service", {})
    last = lambda key, default=None: (svc.get(key) or [default])[-1]  # noqa: E731
    env = {}
    for ef in svc.get("EnvironmentFile", []):
        optional = ef.startswith("-")
        ef = ef.lstrip("-")
        if os.path.exists(dest + ef):
            env.update(read_env_file(dest + ef))
        else:
            check(optional, "EnvironmentFile %s was not installed" % ef)
    for e in svc.get("Environment", []):
        for w in shlex.split(e):
            env.__setitem__(*w.split("=", 1))
    argv = expand_exec(last("ExecStart", ""), env)
    check(argv and argv[0] == PREFIX + "/sbin/smtpscope",
          "ExecStart runs %r, not the installed %s/sbin/smtpscope" % (argv[:1], PREFIX))
    logs_dir = last("LogsDirectory")
    check(logs_dir, "the unit has no LogsDirectory=, so ProtectSystem=strict leaves it nowhere to "
          "write its log")
    logs_dir = "/var/log/" + logs_dir.split()[0]
    rot_path, rot, postrotate = read_logrotate(dest + "/etc/logrotate.d/smtpscope")
    check("copytruncate" not in rot, "logrotate: copytruncate loses lines; smtpscope reopens its "
          "file on a signal instead")

    # the unit's command, but on lo, our port and its log under DESTDIR
    port = free_port()
    args, outputs, i = [dest + argv[0]], [], 1
    while i < len(argv):
        a = argv[i]
        if a in ("-i", "--interface", "--ports") and i + 1 < len(argv):
            i += 2
            continue
        if a in ("-o", "--output") and i + 1 < len(argv):
            o = argv[i + 1]
            if o.startswith("/"):
                check(o.startswith(logs_dir + "/"), "ExecStart writes %s, outside LogsDirectory %s "
                      "(read-only under ProtectSystem=strict)" % (o, logs_dir))
                outputs.append(o)
                o = dest + o
            args += [a, o]
            i += 2
            continue
        args.append(a)
        i += 1
    check(outputs, "ExecStart has no -o FILE: events would go to the journal")
    check(rot_path in outputs, "logrotate rotates %s, but the unit writes %s" % (rot_path, outputs))
    log = dest + rot_path
    args[1:1] = ["-i", "lo", "--ports", str(port)]

    reload_sig = signal_of(last("ExecReload", ""), "ExecReload")
    if re.search(r"systemctl\b.*\breload\b", postrotate):
        rot_sig = reload_sig
    else:
        rot_sig = signal_of(postrotate, "logrotate postrotate")
    check(rot_sig == reload_sig, "logrotate's postrotate sends %s, ExecReload %s"
          % (rot_sig.name, reload_sig.name))

    cleanup = []
    proc = None
    started = False
    instance = os.path.join(tmp, "postfix-service")
    name = "service-start"
    try:
        pw, who = service_user(last("User", "root"), cleanup)
        check(pw.pw_uid != 0, "the unit runs as root")
        group = last("Group")
        if group and pw.pw_name == last("User"):
            gid = grp.getgrnam(group).gr_gid
        else:                   # our stand-in user's own group stands in for Group= too
            gid = pw.pw_gid
        owner = lambda u, g: (pw.pw_uid if u == last("User") else pwd.getpwnam(u).pw_uid,  # noqa
                              gid if g in (group, last("User")) else grp.getgrnam(g).gr_gid)
        # LogsDirectory=: /var/log/NAME, owned by User/Group, LogsDirectoryMode (0755)
        os.makedirs(dest + logs_dir)
        os.chmod(dest + logs_dir, int(last("LogsDirectoryMode", "0755"), 8))
        os.chown(dest + logs_dir, pw.pw_uid, gid)

        ambient = unit_caps(svc.get("AmbientCapabilities"))
        bounding = unit_caps(svc.get("CapabilityBoundingSet")) if "CapabilityBoundingSet" in svc \
            else None
        caps = lambda cs: ",".join(["-all"] + ["+" + c for c in cs])  # noqa: E731
        cmd = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % gid, "--init-groups",
               "--inh-caps=" + caps(ambient), "--ambient-caps=" + caps(ambient)]
        if bounding is not None:
            cmd.append("--bounding-set=" + caps(bounding))
        no_new_privs = last("NoNewPrivileges", "no").lower() in ("yes", "true", "1", "on")
        if no_new_privs:
            cmd.append("--no-new-privs")
        cmd += ["--"] + args
        umask = int(last("UMask", "0022"), 8)
        run_env = dict(env, PATH=SYSTEMD_PATH, LANG="C.UTF-8", USER=pw.pw_name,
                       LOGNAME=pw.pw_name, HOME=pw.pw_dir, SHELL=pw.pw_shell)
        out_path, err_path = os.path.join(tmp, "service.out"), os.path.join(tmp, "service.err")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(cmd, cwd="/", env=run_env, umask=umask, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err)
        stderr = lambda: Path(err_path).read_text("utf-8", "replace")  # noqa: E731
        wait_for(lambda: proc.poll() is not None or packet_socket_open(proc.pid), 10, 0.05)
        if proc.poll() is not None:
            e = stderr()
            if re.search(r"permission denied|operation not permitted|no such interface", e, re.I):
                raise Skip("cannot capture on lo as %s with the unit's capabilities: %s"
                           % (pw.pw_name, " ".join(e.split())[:160]))
            raise Fail("smtpscope exited at once: exit %s, stderr %r" % (proc.returncode, e[:300]))
        check(packet_socket_open(proc.pid), "no packet socket within 10 s")

        # the process: the unit's user, group, capabilities and no_new_privs
        name = "service-privileges"
        try:
            st = proc_status(proc.pid)
            check(Path("/proc/%d/exe" % proc.pid).resolve() == Path(args[0]).resolve(),
                  "the process runs %s" % Path("/proc/%d/exe" % proc.pid).resolve())
            check(st["Uid"] == [str(pw.pw_uid)] * 4, "Uid %s, expected %d (%s)"
                  % (st["Uid"], pw.pw_uid, who))
            check(st["Gid"] == [str(gid)] * 4, "Gid %s, expected %d" % (st["Gid"], gid))
            want = capmask(ambient)
            cap = {k: int(st[k][0], 16) for k in ("CapEff", "CapPrm", "CapAmb", "CapBnd")}
            check(cap["CapEff"] & ~want == 0 and cap["CapPrm"] & ~want == 0 and
                  cap["CapAmb"] == want, "CapEff %x CapPrm %x CapAmb %x, the unit allows %x (%s)"
                  % (cap["CapEff"], cap["CapPrm"], cap["CapAmb"], want, "+".join(ambient)))
            if bounding is not None:
                check(cap["CapBnd"] == capmask(bounding), "CapBnd %x, the unit's %x"
                      % (cap["CapBnd"], capmask(bounding)))
            check(st["NoNewPrivs"] == ["1" if no_new_privs else "0"], "NoNewPrivs %s"
                  % st["NoNewPrivs"])
        except Fail as e:
            report("FAIL", name, str(e))
        else:
            report("PASS", name, "(%s, CapEff %x = %s)" % (who, cap["CapEff"], "+".join(
                c for c in CAPS if cap["CapEff"] >> CAPS.index(c) & 1)))

        started = True
        out = postfix_cmd("start", instance, port)
        check(re.search(r"listening on 127\.0\.0\.1:%d\b" % port, out),
              "tools/postfix-private.sh start failed: %r" % out[-600:])

        # one session, seen through the capture of the unprivileged process
        name = "service-capture"
        first = drive_session(port)
        check(first["data"][0] == 250, "Postfix answered DATA with %r" % (first["data"],))
        p1 = first["client_port"]
        check(wait_for(lambda: any(e.get("event_type") == "smtp_session"
                                   for e in sessions_of(log_events(log, False), p1)), 15),
              "no smtp_session event of the session in %s within 15 s" % log)
        st = os.stat(log)
        check((st.st_uid, st.st_gid) == (pw.pw_uid, gid), "%s owned by %d:%d"
              % (log, st.st_uid, st.st_gid))
        if "create" in rot and rot["create"]:
            check(st.st_mode & 0o7777 == int(rot["create"][0], 8),
                  "smtpscope created %s mode %o (UMask %04o), logrotate re-creates it %s"
                  % (log, st.st_mode & 0o7777, umask, rot["create"][0]))
        report("PASS", name, "")

        # logrotate: rename (rotate N, no dateext: NAME.1), create, postrotate's signal
        name = "service-rotate"
        old = log + ".1"
        os.rename(log, old)
        if "create" in rot:
            c = rot["create"]
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.fchown(fd, *owner(c[1] if len(c) > 1 else "root", c[2] if len(c) > 2 else "root"))
            if c:
                os.fchmod(fd, int(c[0], 8))
            os.close(fd)
        os.kill(proc.pid, rot_sig)
        new_ino = lambda: (os.stat(log).st_dev, os.stat(log).st_ino)  # noqa: E731
        old_ino = (os.stat(old).st_dev, os.stat(old).st_ino)
        check(wait_for(lambda: proc.poll() is not None or (
            os.path.exists(log) and new_ino() in fd_inodes(proc.pid) and
            old_ino not in fd_inodes(proc.pid)), 5),
              "smtpscope did not move to the new %s within 5 s of %s" % (log, rot_sig.name))
        check(proc.poll() is None, "smtpscope exited on %s: exit %s, stderr %r"
              % (rot_sig.name, proc.returncode, stderr()[:300]))
        second = drive_session(port, MESSAGE.replace(b"Live capture", b"Second live capture"))
        p2 = second["client_port"]
        check(wait_for(lambda: any(e.get("event_type") == "smtp_session"
                                   for e in sessions_of(log_events(log, False), p2)), 15),
              "no smtp_session event of the second session in the new %s within 15 s" % log)

        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Fail("smtpscope did not exit within %d s of SIGTERM" % TIMEOUT)
        before, after = log_events(old, True), log_events(log, True)
        kinds = lambda evs, p: sorted(e["event_type"] for e in sessions_of(evs, p))  # noqa: E731
        both = ["smtp_session", "smtp_transaction"]
        check(kinds(before, p1) == both and kinds(before, p2) == [],
              "rotated %s: session 1 %s, session 2 %s" % (old, kinds(before, p1), kinds(before, p2)))
        check(kinds(after, p1) == [] and kinds(after, p2) == both,
              "new %s: session 1 %s, session 2 %s" % (log, kinds(after, p1), kinds(after, p2)))
        subjects = [e.get("email", {}).get("subject") for e in before + after
                    if e["event_type"] == "smtp_transaction"]
        check(subjects == ["Live capture through Postfix", "Second live capture through Postfix"],
              "subjects %r" % subjects)
        report("PASS", name, "")

        name = "service-exit"
        e = stderr()
        check(proc.returncode == 0 and e == "", "exit %s on SIGTERM, stderr %r"
              % (proc.returncode, e[:300]))
        check(after and after[-1].get("event_type") == "stats" and
              after[-1]["stats"]["sessions"] == 2,
              "the new log does not end with the final stats event of 2 sessions: %r"
              % (after[-1] if after else None))
        check(os.path.getsize(out_path) == 0, "events on stdout (the journal): %r"
              % Path(out_path).read_text()[:200])
        report("PASS", name, "")
    except Fail as e:
        report("FAIL", name, str(e))
    finally:
        with signals_held():
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            if started:
                postfix_stop(instance)
            for f in reversed(cleanup):
                f()


def skip_reason():
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not root: a private Postfix and a capture on lo need root"
    if not os.path.exists("/proc/net/packet"):
        return "no /proc/net/packet: no packet capture here"
    if not shutil.which("postfix", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
        return "Postfix is not installed (tools/deps.sh installs it, as root)"
    for tool in ("postconf", "openssl"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            return "%s is not installed" % tool
    return None


def live_case(binary, tmp):
    """The Postfix exchange seen by smtpscope -i lo as root; prints its lines, returns failures."""
    try:
        events, seen = run_exchange(binary, tmp)
    except Skip as e:
        print("SKIP live/postfix-lo: %s" % " ".join(str(e).split()), flush=True)
        return 0
    except Fail as e:
        print("FAIL live/postfix-lo: %s" % " ".join(str(e).split()), flush=True)
        return 1
    except (OSError, smtplib.SMTPException, subprocess.SubprocessError) as e:
        print("FAIL live/postfix-lo: %s: %s" % (type(e).__name__, " ".join(str(e).split())),
              flush=True)
        return 1
    failed = 0
    for name, fn in checks(events, seen):
        try:
            fn()
        except Fail as e:
            failed += 1
            print("FAIL live/%s: %s" % (name, " ".join(str(e).split())), flush=True)
        except Exception as e:  # a bug in the test itself still counts
            failed += 1
            print("FAIL live/%s: %s: %s" % (name, type(e).__name__, " ".join(str(e).split())),
                  flush=True)
        else:
            print("PASS live/%s" % name, flush=True)
    return failed


def main():
    arg = sys.argv[1] if len(sys.argv) > 1 else "build/smtpscope-san"
    path = Path(arg)
    if not path.is_absolute():
        path = Path.cwd() / path if (Path.cwd() / path).exists() else ROOT / path
    if not os.access(str(path), os.X_OK):
        print("FAIL live/binary: %s is not an executable file" % path)
        return 1
    failed = 0

    def report(status, name, why):
        """PASS live/NAME [note] | FAIL live/NAME: why | SKIP live/NAME: why"""
        nonlocal failed
        failed += status == "FAIL"
        why = " ".join(str(why).split())
        sep = ":" if status != "PASS" else ""
        print("%s live/%s%s" % (status, name, sep + " " + why if why else ""), flush=True)

    # a SIGTERM (make interrupted) still stops Postfix, the process, the user and the files
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = tempfile.mkdtemp(prefix="smtpscope-live-")
    try:
        os.chmod(tmp, 0o755)   # the Postfix daemons and the service user get in
        dest = os.path.join(tmp, "destdir")
        installed = False
        try:
            make_install(dest)
        except Fail as e:
            report("FAIL", "service-install", e)
        except (OSError, subprocess.SubprocessError) as e:
            report("FAIL", "service-install", "%s: %s" % (type(e).__name__, e))
        else:
            installed = True
            report("PASS", "service-install", "")
            status, why = verify_unit(dest, tmp)
            report(status, "service-unit-verify", why)
        why = skip_reason()
        if why:
            print("SKIP live/postfix-lo: %s" % why)
            print("SKIP live/service-setpriv: %s" % why)
            return 1 if failed else 0
        os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
        failed += live_case(str(path), tmp)
        if installed:
            try:
                run_service(dest, tmp, report)
            except Skip as e:
                report("SKIP", "service-setpriv", e)
            except Fail as e:
                report("FAIL", "service-config", e)
            except (OSError, smtplib.SMTPException, subprocess.SubprocessError, KeyError) as e:
                report("FAIL", "service-setpriv", "%s: %s" % (type(e).__name__, e))
        return 1 if failed else 0
    finally:
        with signals_held():
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
