#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# SMTP test clients (stdlib only) driven by record.sh, one scenario per run.
"""Usage: client.py SCENARIO [FILESDIR]

Each scenario talks to the private Postfix instance that record.sh starts on
loopback and checks that the server gave the reply codes the capture is meant
to show; any deviation exits non-zero so that a bad recording is noticed.

The mime-* scenarios build their message with the email package and write
every file they attach, byte for byte, into FILESDIR (record.sh passes
pcaps/mime-files), so that tests/email_object.py can check sizes and hashes.
"""

import hashlib
import io
import os
import select
import smtplib
import socket
import struct
import sys
import time
import zipfile
import zlib
from email import charset as email_charset
from email import encoders
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr

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


# --- relaying (record.sh sets smtpd_relay_restrictions) --------------------

def relay(want_remote):
    """Mail to a domain the server is not the destination of, from a client
    that did not authenticate, then to a local one: a closed server refuses
    the first (554 5.7.1 Relay access denied), an open relay takes it."""
    c = Raw()
    expect("greeting", c.reply(), 220)
    expect("EHLO", c.cmd("EHLO " + CLIENT_NAME), 250)
    expect("MAIL", c.cmd("MAIL FROM:<%s>" % SENDER), 250)
    expect("RCPT remote", c.cmd("RCPT TO:<carol@elsewhere.example>"),
           want_remote)
    expect("RCPT local", c.cmd("RCPT TO:<bob@example.test>"), 250)
    expect("DATA", c.cmd("DATA"), 354)
    for line in ("From: %s" % SENDER, "To: carol@elsewhere.example",
                 "Subject: Relay test", "Message-ID: <relay-%d@client.test>"
                 % want_remote, "", "Is this server an open relay?", "."):
        c.send(line)
    expect("end of data", c.reply(), 250)
    expect("QUIT", c.cmd("QUIT"), 221)
    c.sock.close()


# --- SMTP smuggling (record.sh sets smtpd_forbid_bare_newline) -------------

SMUGGLE_ENDS = {"lf": b"\n.\n", "lfcrlf": b"\n.\r\n", "cr": b"\r.\n"}


def smuggle(form):
    """A message ended by a non-standard sequence and a second, hidden
    transaction, all in one write, as an attacker sends it. How many
    replies come back is the server's reading: one for the message if it
    read on to <CR><LF>.<CR><LF>, five if it took the sequence as the end.
    """
    c = Raw()
    expect("greeting", c.reply(), 220)
    expect("EHLO", c.cmd("EHLO " + CLIENT_NAME), 250)
    for line in ("MAIL FROM:<%s>" % SENDER, "RCPT TO:<bob@example.test>",
                 "DATA"):
        c.send(line)
    expect("MAIL", c.reply(), 250)
    expect("RCPT", c.reply(), 250)
    expect("DATA", c.reply(), 354)
    hidden = ("MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<bob@example.test>\r\n"
              "DATA\r\nFrom: ceo@bank.example\r\nTo: bob@example.test\r\n"
              "Subject: Urgent wire transfer\r\n\r\nPay the invoice today."
              "\r\n.\r\nQUIT\r\n").encode("ascii")
    data = (b"From: alice@client.test\r\nTo: bob@example.test\r\n"
            b"Subject: Hello\r\nMessage-ID: <smuggle-" + form.encode() +
            b"@client.test>\r\n\r\nHi Bob" + SMUGGLE_ENDS[form] + hidden)
    log("C: (one write) %r" % data)
    c.sock.sendall(data)
    codes = []
    while not codes or codes[-1] != 221:
        codes.append(c.reply())
    log("replies: %s" % codes)
    if codes not in ([250, 250, 250, 354, 250, 221], [250, 221], [550, 221]):
        raise SystemExit("unexpected replies %s" % codes)
    c.sock.close()


# --- MIME scenarios (email package + smtplib) --------------------------------
#
# Everything below is deterministic: the attachments are made from fixed
# seeds, every header (Date, Message-ID, boundaries) is fixed, so a
# re-recording sends the same message bytes.

MIME_DATE = "Tue, 02 Jan 2024 09:30:00 +0100"
FILES_DIR = None  # set by main() from argv[2]


def pseudo_random(seed, n):
    """n reproducible bytes: SHA-256 in counter mode over the seed."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"%s:%d" % (seed, i)).digest()
        i += 1
    return bytes(out[:n])


def fake_pdf():
    """A PDF-like file: a real PDF preamble around 3 KB of binary noise."""
    head = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
            b"2 0 obj\n<< /Length 3072 /Filter /FlateDecode >>\nstream\n")
    return head + pseudo_random(b"report.pdf", 3072) + \
        b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def small_zip():
    """A zip of two text files, with fixed dates, so the bytes never change."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("logs/server.log", b"2024-01-02 09:00:00 started\n" * 40),
                           ("logs/README.txt", b"Server logs of the 2nd of January.\n")):
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 2, 9, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, text)
    return buf.getvalue()


def small_png():
    """A 16x16 RGB PNG (a gradient), built with zlib."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    raw = b"".join(b"\0" + b"".join(bytes((x * 16, y * 16, 128)) for x in range(16))
                   for y in range(16))
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def save_file(name, data):
    """Keep the exact bytes attached as FILES_DIR/name (for tests/email_object.py)."""
    if FILES_DIR:
        os.makedirs(FILES_DIR, exist_ok=True)
        with open(os.path.join(FILES_DIR, name), "wb") as f:
            f.write(data)
    log("attached %s: %d bytes, sha256 %s" % (name, len(data),
                                              hashlib.sha256(data).hexdigest()))
    return data


def top_headers(msg, sender, to, subject, msgid):
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = MIME_DATE
    msg["Message-ID"] = "<%s@client.test>" % msgid


def send_mime(msg, rcpts, envelope_from=SENDER):
    s = connect()
    expect("EHLO", s.ehlo(CLIENT_NAME)[0], 250)
    # CRLF line ends: smtplib sends bytes as they are.
    data = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
    refused = s.sendmail(envelope_from, rcpts, data)
    expect("sendmail refused", refused, {})
    expect("QUIT", s.quit()[0], 221)


def mime_attachments():
    msg = MIMEMultipart("mixed", boundary="==smtpscope-mixed-1==")
    # An ISO-8859-1 (Q) encoded display name in From.
    sender = formataddr(("Alice B\u00fccher", "alice@client.test"),
                        charset=email_charset.Charset("iso-8859-1"))
    top_headers(msg, sender, "Bob <bob@example.test>",
                "Quarterly report with two attachments", "mime-attachments")
    msg.attach(MIMEText("Hello Bob,\n\nthe report and the server logs are attached.\n\n"
                        "Alice\n", "plain", "us-ascii"))
    pdf = MIMEApplication(save_file("report-2024.pdf", fake_pdf()), "pdf")
    pdf.add_header("Content-Disposition", "attachment", filename="report-2024.pdf")
    msg.attach(pdf)
    z = MIMEApplication(save_file("logs.zip", small_zip()), "zip")
    z.add_header("Content-Disposition", "attachment", filename="logs.zip")
    msg.attach(z)
    send_mime(msg, ["bob@example.test"])


def mime_alternative():
    qp = email_charset.Charset("utf-8")
    qp.body_encoding = email_charset.QP
    msg = MIMEMultipart("mixed", boundary="==smtpscope-outer==")
    top_headers(msg, "Alice Example <alice@client.test>",
                "bob@example.test, carol@example.test",
                "Newsletter: text, HTML and an inline image", "mime-alternative")
    alt = MIMEMultipart("alternative", boundary="==smtpscope-alt==")
    text = ("Hello,\n\nthe new release is out: https://www.example.test/releases/2024-01?"
            "lang=en&ref=newsletter\nDownloads: http://downloads.example.test/files/"
            "tool-1.2.3.tar.gz\n\nCheers \u2013 Alice\n")
    alt.attach(MIMEText(text, "plain", qp))
    html = ('<html><body><p>Hello,</p><p>the <a href="https://www.example.test/releases/'
            '2024-01?lang=en&amp;ref=newsletter-html-version-with-a-long-query-string">'
            'new release</a> is out.</p><p><img src="cid:logo@client.test" alt="logo">'
            '</p><p>Cheers \u2013 Alice</p></body></html>\n')
    alt.attach(MIMEText(html, "html", qp))
    msg.attach(alt)
    img = MIMEImage(save_file("logo.png", small_png()), "png")
    img.add_header("Content-ID", "<logo@client.test>")
    img.add_header("Content-Disposition", "inline", filename="logo.png")
    msg.attach(img)
    send_mime(msg, ["bob@example.test", "carol@example.test"])


def mime_attached_eml():
    inner = MIMEMultipart("mixed", boundary="==smtpscope-inner==")
    inner["From"] = "Mallory Inner <mallory@inner.test>"
    inner["To"] = "someone@inner.test"
    inner["Cc"] = "other@inner.test"
    inner["Reply-To"] = "replies@inner.test"
    inner["Subject"] = "Inner subject that must not leak out"
    inner["Date"] = "Sun, 31 Dec 2023 23:59:59 -0500"
    inner["Message-ID"] = "<inner-message@inner.test>"
    inner.attach(MIMEText("This is the forwarded message.\n", "plain", "us-ascii"))
    csv = MIMEText(save_file("inner-data.csv",
                             b"id,name,amount\r\n1,alpha,10\r\n2,beta,20\r\n"
                             b"3,gamma,30\r\n"
                             ).decode("ascii"), "csv", "us-ascii")
    csv.add_header("Content-Disposition", "attachment", filename="inner-data.csv")
    inner.attach(csv)
    msg = MIMEMultipart("mixed", boundary="==smtpscope-outer-eml==")
    top_headers(msg, "Alice Example <alice@client.test>", "Bob <bob@example.test>",
                "Fwd: a message attached as message/rfc822", "mime-attached-eml")
    msg["Reply-To"] = "Alice Replies <alice-replies@client.test>"
    msg.attach(MIMEText("Bob,\n\nsee the attached message.\n\nAlice\n", "plain",
                        "us-ascii"))
    # The attached message as it goes on the wire (what message/rfc822 holds).
    save_file("forwarded.eml", inner.as_bytes(policy=inner.policy.clone(linesep="\r\n")))
    fwd = MIMEMessage(inner)
    fwd.add_header("Content-Disposition", "attachment", filename="forwarded.eml")
    msg.attach(fwd)
    send_mime(msg, ["bob@example.test"])


def mime_encoded_headers():
    b64 = email_charset.Charset("utf-8")
    b64.header_encoding = email_charset.BASE64
    latin_q = email_charset.Charset("iso-8859-1")  # Q encoding for headers
    msg = MIMEMultipart("mixed", boundary="==smtpscope-encoded==")
    # From: a UTF-8 (B) display name; Cc: an ISO-8859-1 (Q) one.
    msg["From"] = formataddr(("Zo\u00eb \u00c5ngstr\u00f6m", "alice@client.test"),
                             charset=b64)
    # To: quoted commas, a group with an encoded member, a bare address.
    msg["To"] = ('"Doe, Jane" <jane@example.test>, "Smith, Bob (Sales)" '
                 '<bob@example.test>, Project Team: carol@example.test, %s;, '
                 'erin@example.test' % formataddr(("Dave M\u00fcller",
                                                   "dave@example.test"),
                                                  charset=latin_q))
    msg["Cc"] = formataddr(("Fran\u00e7ois Lef\u00e8vre", "postmaster@example.test"),
                           charset=latin_q)
    # Subject: a UTF-8 B word, plain text, an ISO-8859-1 Q word.
    msg["Subject"] = "Re: %s und %s" % (
        Header("Pr\u00fcfbericht \u2013 Gr\u00f6\u00dfe \u65e5\u672c", b64).encode(),
        Header("caf\u00e9 cr\u00e8me", latin_q).encode())
    msg["Date"] = MIME_DATE
    msg["Message-ID"] = "<mime-encoded-headers@client.test>"
    msg["In-Reply-To"] = "<ref-11@client.test>"
    # A very long header, folded by the generator over several lines.
    msg["References"] = " ".join("<ref-%02d@client.test>" % i for i in range(12))
    msg["X-Long-Comment"] = " ".join(
        "word%02d" % i for i in range(60))
    msg.attach(MIMEText("Headers in several encodings; see the attachment.\n",
                        "plain", "us-ascii"))
    att = MIMEBase("text", "plain", charset="utf-8")
    data = save_file("encoded-name.txt",
                     "Gr\u00f6\u00dfe, r\u00e9sum\u00e9, \u65e5\u672c\u8a9e\n".encode())
    att.set_payload(data)
    encoders.encode_base64(att)
    # RFC 2231 file name with non-ASCII characters.
    att.add_header("Content-Disposition", "attachment",
                   filename=("utf-8", "", "Gr\u00f6\u00dfe r\u00e9sum\u00e9 "
                             "\u65e5\u672c.txt"))
    msg.attach(att)
    send_mime(msg, ["bob@example.test", "carol@example.test", "dave@example.test",
                    "erin@example.test", "postmaster@example.test"])


SCENARIOS = {
    "helo-plain": helo_plain,
    "rcpt-rejections": rcpt_rejections,
    "errors-421": errors_421,
    "rset-noop-vrfy": rset_noop_vrfy,
    "auth-plain": auth_plain,
    "auth-login-fail": auth_login_fail,
    "two-messages": two_messages,
    "mid-data-close": mid_data_close,
    "mime-attachments": mime_attachments,
    "mime-alternative": mime_alternative,
    "mime-attached-eml": mime_attached_eml,
    "mime-encoded-headers": mime_encoded_headers,
    "relay-denied": lambda: relay(554),
    "relay-open": lambda: relay(250),
    "smuggle-lf": lambda: smuggle("lf"),
    "smuggle-lfcrlf": lambda: smuggle("lfcrlf"),
    "smuggle-cr": lambda: smuggle("cr"),
}


def main():
    global FILES_DIR
    if len(sys.argv) not in (2, 3) or sys.argv[1] not in SCENARIOS:
        sys.exit("usage: client.py {%s} [FILESDIR]" % "|".join(sorted(SCENARIOS)))
    if len(sys.argv) == 3:
        FILES_DIR = sys.argv[2]
    SCENARIOS[sys.argv[1]]()


if __name__ == "__main__":
    main()
