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
# Postfix); exits 1 if any failed. Postfix and the temporary directory are
# removed at exit, on failure too.

import hashlib
import json
import os
import re
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


def check(cond, why):
    if not cond:
        raise Fail(why)


def packet_socket_open(pid):
    """True once pid holds a packet socket (the capture is open); as tests/cli.py."""
    try:
        inodes = set()
        for fd in os.listdir("/proc/%d/fd" % pid):
            m = re.fullmatch(r"socket:\[(\d+)\]", os.readlink("/proc/%d/fd/%s" % (pid, fd)))
            if m:
                inodes.add(m.group(1))
        with open("/proc/net/packet") as f:
            next(f)
            return any(line.split()[-1] in inodes for line in f if line.strip())
    except OSError:
        return False


def free_port():
    """A TCP port free on 127.0.0.1 now (an ephemeral one: never 25)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def postconf(conf, name):
    return subprocess.run(["postconf", "-c", conf, "-xh", name], stdout=subprocess.PIPE,
                          check=True, timeout=TIMEOUT).stdout.decode().strip()


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

        client = CountingSMTP(timeout=TIMEOUT)
        seen["greeting"] = client.connect("127.0.0.1", port)
        seen["client_port"] = client.sock.getsockname()[1]
        seen["ehlo"] = client.ehlo(HELO)
        seen["mail"] = client.mail(SENDER)
        seen["rcpt"] = [(ACCEPTED, client.rcpt(ACCEPTED)), (DENIED, client.rcpt(DENIED))]
        seen["data"] = client.data(MESSAGE)
        seen["quit"] = client.quit()
        seen["sent"], seen["received"] = client.sent, client.received

        # smtp_session is written once the capture has the closing packets
        seen["session_event_live"] = stream.wait_session(seen["client_port"], 15)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=TIMEOUT)
        err = err.decode("utf-8", "replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        stream.close()
        if started:
            stopped = postfix_cmd("stop", instance)
            if "stopping" not in stopped:
                print("live: tools/postfix-private.sh stop: %s" % stopped.strip()[:300], flush=True)

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


def main():
    arg = sys.argv[1] if len(sys.argv) > 1 else "build/smtpscope-san"
    path = Path(arg)
    if not path.is_absolute():
        path = Path.cwd() / path if (Path.cwd() / path).exists() else ROOT / path
    if not os.access(str(path), os.X_OK):
        print("FAIL live/binary: %s is not an executable file" % path)
        return 1
    why = skip_reason()
    if why:
        print("SKIP live/postfix-lo: %s" % why)
        return 0
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    # a SIGTERM (make interrupted) still stops Postfix and removes the files
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = tempfile.mkdtemp(prefix="smtpscope-live-")
    try:
        os.chmod(tmp, 0o755)   # the Postfix daemons run as postfix
        try:
            events, seen = run_exchange(str(path), tmp)
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
        return 1 if failed else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
