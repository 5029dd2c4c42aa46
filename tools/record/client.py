#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# SMTP test clients (stdlib only) driven by record.sh, one scenario per run.
"""Usage: client.py SCENARIO

Each scenario talks to the private Postfix instance that record.sh starts on
loopback and checks that the server gave the reply codes the capture is meant
to show; any deviation exits non-zero so that a bad recording is noticed.
"""

import select
import smtplib
import socket
import sys
import time

HOST4 = "127.0.0.1"
SMTP_PORT = 25
SUBMISSION_PORT = 587
CLIENT_NAME = "client.test"
SENDER = "alice@client.test"
AUTH_USER = "alice@example.test"
AUTH_PASS = "correct-horse-battery"  # must match record.sh
TIMEOUT = 15


def log(text):
    print(text, flush=True)


def message(sender, rcpts, subject, body, msgid):
    lines = [
        "From: %s" % sender,
        "To: %s" % ", ".join(rcpts),
        "Subject: %s" % subject,
        "Date: Mon, 01 Jan 2024 12:00:00 +0000",
        "Message-ID: <%s@client.test>" % msgid,
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "",
    ] + body
    return "\r\n".join(lines) + "\r\n"


def expect(what, got, want):
    log("%s -> %r" % (what, got))
    if got != want:
        raise SystemExit("unexpected reply to %s: got %r, want %r" % (what, got, want))


def connect(port=SMTP_PORT):
    s = smtplib.SMTP(HOST4, port, local_hostname=CLIENT_NAME, timeout=TIMEOUT)
    s.set_debuglevel(1)
    return s


# --- smtplib scenarios ------------------------------------------------------

def helo_plain():
    s = connect()
    code, _ = s.helo(CLIENT_NAME)
    expect("HELO", code, 250)
    msg = message(SENDER, ["bob@example.test"], "Plain HELO test",
                  ["Hello Bob,", "", "this message was sent after HELO, not EHLO.", "", "Alice"],
                  "helo-plain")
    refused = s.sendmail(SENDER, ["bob@example.test"], msg)
    expect("sendmail refused", refused, {})
    code, _ = s.quit()
    expect("QUIT", code, 221)


def rcpt_rejections():
    rcpts = ["bob@example.test", "nosuchuser@example.test", "carol@example.test",
             "blocked@example.test", "busy@example.test"]
    s = connect()
    code, _ = s.ehlo(CLIENT_NAME)
    expect("EHLO", code, 250)
    msg = message(SENDER, rcpts, "Several recipients, some rejected",
                  ["Only bob and carol should get this."], "rcpt-rejections")
    refused = s.sendmail(SENDER, rcpts, msg)
    expect("refused recipient codes",
           {rcpt: reply[0] for rcpt, reply in refused.items()},
           {"nosuchuser@example.test": 550, "blocked@example.test": 554,
            "busy@example.test": 454})
    code, _ = s.quit()
    expect("QUIT", code, 221)


def rset_noop_vrfy():
    s = connect()
    expect("EHLO", s.ehlo(CLIENT_NAME)[0], 250)
    expect("NOOP", s.noop()[0], 250)
    expect("VRFY existing", s.verify("bob@example.test")[0], 252)
    expect("VRFY unknown", s.verify("mallory@example.test")[0], 550)
    expect("EXPN", s.expn("staff")[0], 500)  # Postfix has no EXPN
    s.putcmd("help")
    expect("HELP", s.getreply()[0], 500)  # nor HELP
    expect("MAIL", s.mail(SENDER)[0], 250)
    expect("RCPT", s.rcpt("bob@example.test")[0], 250)
    expect("RSET", s.rset()[0], 250)
    expect("NOOP", s.noop()[0], 250)
    expect("QUIT", s.quit()[0], 221)


def auth_plain():
    s = connect(SUBMISSION_PORT)
    expect("EHLO", s.ehlo(CLIENT_NAME)[0], 250)
    if "PLAIN" not in s.esmtp_features.get("auth", "").upper().split():
        raise SystemExit("server does not offer AUTH PLAIN")
    s.user, s.password = AUTH_USER, AUTH_PASS
    code, _ = s.auth("PLAIN", s.auth_plain, initial_response_ok=True)
    expect("AUTH PLAIN", code, 235)
    msg = message(SENDER, ["bob@example.test"], "Sent after AUTH PLAIN",
                  ["Authenticated submission on port 587."], "auth-plain")
    expect("sendmail refused", s.sendmail(SENDER, ["bob@example.test"], msg), {})
    expect("QUIT", s.quit()[0], 221)


def auth_login_fail():
    s = connect(SUBMISSION_PORT)
    expect("EHLO", s.ehlo(CLIENT_NAME)[0], 250)
    for password in ("wrong-password", "still-wrong"):
        s.user, s.password = AUTH_USER, password
        try:
            s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        except smtplib.SMTPAuthenticationError as e:
            expect("AUTH LOGIN (%s)" % password, e.smtp_code, 535)
        else:
            raise SystemExit("AUTH LOGIN with a wrong password succeeded")
    expect("QUIT", s.quit()[0], 221)


def two_messages():
    s = connect()
    expect("EHLO", s.ehlo(CLIENT_NAME)[0], 250)
    msg1 = message(SENDER, ["bob@example.test"], "First message of two",
                   ["This is the first message."], "two-messages-1")
    expect("sendmail 1 refused", s.sendmail(SENDER, ["bob@example.test"], msg1), {})
    sender2 = "frank@client.test"
    rcpts2 = ["carol@example.test", "dave@example.test"]
    msg2 = message(sender2, rcpts2, "Second message of two",
                   ["This is the second message,", "to two other recipients."],
                   "two-messages-2")
    expect("sendmail 2 refused", s.sendmail(sender2, rcpts2, msg2), {})
    expect("QUIT", s.quit()[0], 221)


# --- raw socket scenarios ---------------------------------------------------

class Raw:
    """Line-at-a-time SMTP over a plain socket."""

    def __init__(self, port=SMTP_PORT):
        self.sock = socket.create_connection((HOST4, port), timeout=TIMEOUT)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise EOFError("server closed the connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("ascii", "replace")

    def reply(self):
        """Read one (possibly multi-line) reply; return its code."""
        while True:
            line = self._line()
            log("S: " + line)
            if len(line) < 4 or line[3] != "-":
                return int(line[:3])

    def pending(self, wait=0.5):
        """True if the server has sent more than we have read so far."""
        if self.buf:
            return True
        r, _, _ = select.select([self.sock], [], [], wait)
        return bool(r)

    def send(self, line):
        log("C: " + line)
        self.sock.sendall(line.encode("ascii") + b"\r\n")

    def cmd(self, line):
        self.send(line)
        return self.reply()


def errors_421():
    c = Raw()
    expect("greeting", c.reply(), 220)
    expect("EHLO", c.cmd("EHLO " + CLIENT_NAME), 250)
    bad = [
        ("FROBNICATE now", 500),            # unknown verb
        ("MAIL FROM:<alice@client.test", 501),  # unbalanced <
        ("RCPT TO:<bob@example.test>", 503),  # RCPT before MAIL
    ]
    got_421 = False
    for i in range(30):  # bounded: Postfix gives up after smtpd_hard_error_limit
        line, want = bad[i % len(bad)]
        expect(line, c.cmd(line), want)
        if c.pending():
            code = c.reply()
            expect("unsolicited reply", code, 421)
            got_421 = True
            break
    if not got_421:
        raise SystemExit("no 421 after %d errors" % (i + 1))
    # The server closes after 421; read to EOF so the close is clean.
    c.sock.settimeout(5)
    while c.sock.recv(4096):
        pass
    c.sock.close()
    log("server closed the connection")


def mid_data_close():
    c = Raw()
    expect("greeting", c.reply(), 220)
    expect("EHLO", c.cmd("EHLO " + CLIENT_NAME), 250)
    expect("MAIL", c.cmd("MAIL FROM:<%s>" % SENDER), 250)
    expect("RCPT", c.cmd("RCPT TO:<bob@example.test>"), 250)
    expect("DATA", c.cmd("DATA"), 354)
    partial = [
        "From: %s" % SENDER,
        "To: bob@example.test",
        "Subject: This message is never finished",
        "Date: Mon, 01 Jan 2024 12:00:00 +0000",
        "",
        "First body line.",
        "Second body line.",
        "Third body line, and then the client goes away",
    ]
    # One write, then a pause so that the data is acknowledged before the FIN.
    for line in partial:
        log("C: " + line)
    c.sock.sendall(("\r\n".join(partial) + "\r\n").encode("ascii"))
    time.sleep(0.3)
    log("C: (close without the final '.')")
    c.sock.close()


SCENARIOS = {
    "helo-plain": helo_plain,
    "rcpt-rejections": rcpt_rejections,
    "errors-421": errors_421,
    "rset-noop-vrfy": rset_noop_vrfy,
    "auth-plain": auth_plain,
    "auth-login-fail": auth_login_fail,
    "two-messages": two_messages,
    "mid-data-close": mid_data_close,
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        sys.exit("usage: client.py {%s}" % "|".join(sorted(SCENARIOS)))
    SCENARIOS[sys.argv[1]]()


if __name__ == "__main__":
    main()
