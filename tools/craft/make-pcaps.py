#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make-pcaps.py - write every crafted capture of pcaps/crafted/ with craft.py.

usage: tools/craft/make-pcaps.py [OUTDIR]   (default: pcaps/crafted)

Each capture is an SMTP dialogue that real captures lose in some way (no
handshake, one direction, a lost segment, missing ACKs) or an attack a real
client would not send (smuggling, STARTTLS injection, password guessing).
The output is byte-identical on every run.
"""

import base64
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from craft import Conn, Pcap  # noqa: E402

BANNER = b"220 mx.example.test ESMTP\r\n"
EHLO = b"EHLO client.test\r\n"
EHLO_REPLY = (b"250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
              b"250-8BITMIME\r\n250 SMTPUTF8\r\n")
MAIL = b"MAIL FROM:<alice@client.test>\r\n"
RCPT = b"RCPT TO:<bob@example.test>\r\n"
OK_MAIL = b"250 2.1.0 Ok\r\n"
OK_RCPT = b"250 2.1.5 Ok\r\n"
DATA = b"DATA\r\n"
GO_AHEAD = b"354 End data with <CR><LF>.<CR><LF>\r\n"
QUEUED = b"250 2.0.0 Ok: queued as 4Zt3Kq1Xyz\r\n"
QUIT = b"QUIT\r\n"
BYE = b"221 2.0.0 Bye\r\n"


def message(subject, lines=6):
    """A small message and its terminating dot."""
    head = (b"From: Alice <alice@client.test>\r\n"
            b"To: Bob <bob@example.test>\r\n"
            b"Subject: " + subject + b"\r\n"
            b"Message-ID: <crafted@client.test>\r\n\r\n")
    body = b"".join(b"Line %02d of a crafted message body, 48 bytes.\r\n" % i
                    for i in range(1, lines + 1))
    return head + body


def up_to_data(c):
    """Banner to the 354 that invites one message's body."""
    c.server(BANNER)
    ehlo_to_data(c)


def ehlo_to_data(c):
    """EHLO to the 354 that invites one message's body."""
    c.client(EHLO)
    c.server(EHLO_REPLY)
    c.client(MAIL)
    c.server(OK_MAIL)
    c.client(RCPT)
    c.server(OK_RCPT)
    c.client(DATA)
    c.server(GO_AHEAD)


def dialogue(c, subject, body_kw=None, lines=6):
    """Banner to QUIT/221 of one message; body_kw shapes the body's segments."""
    up_to_data(c)
    c.client(message(subject, lines) + b".\r\n", **(body_kw or {}))
    c.server(QUEUED)
    c.client(QUIT)
    c.server(BYE)


def midstream(p):
    """The capture starts after the handshake, banner and EHLO."""
    c = Conn(p, client=("192.0.2.7", 40001))
    c.capture(False)
    c.handshake()
    c.server(BANNER)
    c.client(EHLO, acks=False)
    c.capture(True)
    c.server(EHLO_REPLY)
    c.client(MAIL)
    c.server(OK_MAIL)
    c.client(RCPT)
    c.server(OK_RCPT)
    c.client(DATA)
    c.server(GO_AHEAD)
    c.client(message(b"Seen from the middle") + b".\r\n")
    c.server(QUEUED)
    c.client(QUIT)
    c.server(BYE)
    c.close()


def no_syn(p):
    """The client's SYN was not captured; everything else was."""
    c = Conn(p, client=("192.0.2.7", 40002))
    c.handshake(syn=False)
    dialogue(c, b"The SYN was lost")
    c.close()


def no_last_ack(p):
    """The handshake's last ACK was not captured."""
    c = Conn(p, client=("192.0.2.7", 40003))
    c.handshake(ack=False)
    dialogue(c, b"The last handshake ACK was lost")
    c.close()


def one_side_client(p):
    """Only client-to-server packets (asymmetric routing, one-sided SPAN)."""
    c = Conn(p, client=("192.0.2.7", 40004), only="client")
    c.handshake()
    dialogue(c, b"Only the client side")
    c.close()


def lost_segment(p):
    """One client segment inside the DATA body is never captured."""
    c = Conn(p, client=("192.0.2.7", 40005))
    c.handshake()
    dialogue(c, b"A segment of this body is lost",
             body_kw={"seg": 100, "drop": {2}})
    c.close()


def lost_server_segment(p):
    """The server's reply to RCPT is never captured."""
    c = Conn(p, client=("192.0.2.7", 40006))
    c.handshake()
    c.server(BANNER)
    c.client(EHLO)
    c.server(EHLO_REPLY)
    c.client(MAIL)
    c.server(OK_MAIL)
    c.client(RCPT, acks=False)
    c.server(OK_RCPT, drop={0}, acks=False)
    c.client(DATA)
    c.server(GO_AHEAD)
    c.client(message(b"The reply to RCPT is lost") + b".\r\n")
    c.server(QUEUED)
    c.client(QUIT)
    c.server(BYE)
    c.close()


def no_acks_window(p):
    """The server advertises 4096 bytes (no scaling); its ACKs during the
    body are missing while the client sends about 11 KB."""
    c = Conn(p, client=("192.0.2.7", 40007), window=(64240, 4096),
             wscale=None, acks_from={"client"})
    c.handshake()
    dialogue(c, b"More than one window", body_kw={"seg": 1000}, lines=200)
    c.close()


def smuggling_lf(p):
    """SMTP smuggling (2023): <LF>.<LF> inside DATA, a spoofed second
    message pipelined behind it; the server (lenient, as Postfix was)
    takes both."""
    c = Conn(p, client=("192.0.2.66", 40011))
    c.handshake()
    c.server(BANNER)
    c.client(EHLO)
    c.server(EHLO_REPLY)
    c.client(MAIL + RCPT + DATA)
    c.server(OK_MAIL + OK_RCPT + GO_AHEAD)
    c.client(b"From: Alice <alice@client.test>\r\nSubject: Hello\r\n\r\n"
             b"An ordinary first message.\r\n\n.\n"
             b"MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<bob@example.test>\r\n"
             b"DATA\r\nFrom: CEO <ceo@bank.example>\r\n"
             b"Subject: Urgent wire transfer\r\n\r\nPay now.\r\n.\r\n")
    c.server(b"250 2.0.0 Ok: queued as 1111AAAA\r\n" + OK_MAIL + OK_RCPT +
             GO_AHEAD + b"250 2.0.0 Ok: queued as 2222BBBB\r\n")
    c.client(QUIT)
    c.server(BYE)
    c.close()


def smuggling_cr(p):
    """<CR>.<CR> inside DATA followed by a command: our decoder (and a strict
    server) reads one message; a server ending DATA at a bare CR would read
    two."""
    c = Conn(p, client=("192.0.2.66", 40012))
    c.handshake()
    c.server(BANNER)
    c.client(EHLO)
    c.server(EHLO_REPLY)
    c.client(MAIL + RCPT + DATA)
    c.server(OK_MAIL + OK_RCPT + GO_AHEAD)
    c.client(b"Subject: Hello\r\n\r\nFirst part\r.\r"
             b"MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<bob@example.test>\r\n"
             b"DATA\r\nSubject: hidden\r\n\r\nx\r\n.\r\n")
    c.server(QUEUED)
    c.client(QUIT)
    c.server(BYE)
    c.close()


def starttls_injection(p):
    """CVE-2011-0411: commands sent in clear right behind STARTTLS."""
    c = Conn(p, client=("192.0.2.66", 40013))
    c.handshake()
    c.server(BANNER)
    c.client(EHLO)
    c.server(b"250-mx.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
    c.client(b"STARTTLS\r\nRSET\r\nMAIL FROM:<evil@attacker.example>\r\n")
    c.server(b"220 2.0.0 Ready to start TLS\r\n")
    c.client(b"\x16\x03\x01\x00\x2a" + bytes(range(42)))
    c.server(b"\x16\x03\x03\x00\x30" + bytes(range(48)))
    c.close()


def auth_bruteforce(p):
    """Password guessing: one client address, three connections, two
    failed AUTH LOGIN each."""
    for i in range(3):
        c = Conn(p, client=("192.0.2.99", 40020 + i))
        c.handshake()
        c.server(BANNER)
        c.client(EHLO)
        c.server(b"250-mx.example.test\r\n250 AUTH PLAIN LOGIN\r\n")
        for guess in (b"MTIzNDU2", b"cGFzc3dvcmQ="):
            c.client(b"AUTH LOGIN YWRtaW4=\r\n")  # user "admin"
            c.server(b"334 UGFzc3dvcmQ6\r\n")
            c.client(guess + b"\r\n")
            c.server(b"535 5.7.8 Error: authentication failed\r\n")
        c.client(QUIT)
        c.server(BYE)
        c.close()


def bdat(p):
    """CHUNKING: an invalid size refused, then two chunks pipelined, the
    first holding a CRLF.CRLF that is data, not an end."""
    c = Conn(p, client=("192.0.2.7", 40014))
    c.handshake()
    c.server(BANNER)
    c.client(EHLO)
    c.server(b"250-mx.example.test\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
    c.client(MAIL + RCPT + b"BDAT 12x\r\n")
    c.server(OK_MAIL + OK_RCPT + b"501 5.5.4 Syntax: BDAT count [LAST]\r\n")
    chunk1 = b"Subject: Chunked\r\n\r\nfirst\r\n.\r\nstill data\r\n"
    chunk2 = b"last chunk\r\n"
    c.client(b"BDAT %d\r\n" % len(chunk1) + chunk1 +
             b"BDAT %d LAST\r\n" % len(chunk2) + chunk2)
    c.server(b"250 2.0.0 %d bytes received\r\n" % len(chunk1) +
             b"250 2.0.0 Ok: queued as 3333CCCC\r\n")
    c.client(QUIT)
    c.server(BYE)
    c.close()


def attachment_bytes():
    """The attached file of mime-cut-attachment (tests/email_object.py
    builds the same bytes)."""
    return bytes(range(256)) * 16


def mime_cut_attachment(p):
    """A message whose base64 attachment the client stops sending half way
    (the connection is reset): the part is truncated, the message cut."""
    c = Conn(p, client=("192.0.2.7", 40015))
    c.handshake()
    up_to_data(c)
    b64 = base64.encodebytes(attachment_bytes()).replace(b"\n", b"\r\n")
    body = (b"From: Alice <alice@client.test>\r\n"
            b"To: Bob <bob@example.test>\r\n"
            b"Subject: An attachment cut half way\r\n"
            b"Date: Tue, 02 Jan 2024 09:30:00 +0100\r\n"
            b"Message-ID: <cut-attachment@client.test>\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            b"--b1\r\nContent-Type: text/plain\r\n\r\nSee the file.\r\n"
            b"--b1\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n")
    c.client(body + b64[:len(b64) // 2], seg=1000)
    c.rst("client")



def nested_mail(p):
    """A MAIL inside a transaction, refused as Postfix does (503 nested
    MAIL command): the recipient and the message that follow belong to
    the transaction still open."""
    c = Conn(p, client=("192.0.2.71", 40030))
    c.handshake()
    c.server(BANNER)
    c.client(EHLO)
    c.server(EHLO_REPLY)
    c.client(MAIL)
    c.server(OK_MAIL)
    c.client(b"MAIL FROM:<bob@client.test>\r\n")
    c.server(b"503 5.5.1 Error: nested MAIL command\r\n")
    c.client(RCPT)
    c.server(OK_RCPT)
    c.client(DATA)
    c.server(GO_AHEAD)
    c.client(message(b"Nested MAIL refused") + b".\r\n")
    c.server(QUEUED)
    c.client(QUIT)
    c.server(BYE)
    c.close()


def starttls_stripped(p):
    """STARTTLS accepted, then the client goes on in clear: a stripping
    middlebox, or a decrypted session spliced into the capture."""
    c = Conn(p, client=("192.0.2.72", 40031))
    c.handshake()
    c.server(BANNER)
    c.client(EHLO)
    c.server(b"250-mx.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
    c.client(b"STARTTLS\r\n")
    c.server(b"220 2.0.0 Ready to start TLS\r\n")
    ehlo_to_data(c)
    c.client(message(b"After a STARTTLS that never happened") + b".\r\n")
    c.server(QUEUED)
    c.client(QUIT)
    c.server(BYE)
    c.close()


def auth_pipelined(p):
    """AUTH responses the server may read as such, whatever brought them:
    LOGIN with its user and password pipelined before any 334, then
    PLAIN after a lost 334 (the server's segment is not captured)."""
    c = Conn(p, client=("192.0.2.73", 40032))
    c.handshake()
    c.server(BANNER)
    c.client(EHLO)
    c.server(b"250-mx.example.test\r\n250-PIPELINING\r\n"
             b"250 AUTH PLAIN LOGIN\r\n")
    # user "alice", password "correct horse battery staple"
    c.client(b"AUTH LOGIN\r\nYWxpY2U=\r\nY29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZQ==\r\n")
    c.server(b"334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n"
             b"535 5.7.8 Error: authentication failed\r\n")
    c.client(b"AUTH PLAIN\r\n")
    c.server(b"334 \r\n", drop={0})
    c.client(b"AGFsaWNlAGNvcnJlY3QgaG9yc2UgYmF0dGVyeSBzdGFwbGU=\r\n")
    c.server(b"235 2.7.0 Authentication successful\r\n")
    c.client(QUIT)
    c.server(BYE)
    c.close()


# ---- SMTP on other ports and in tunnels (--ports any, --detect) ----

SOCKS_PASSWORD = b"Tr0ub4dor&3-proxy"  # must appear in no output
SOCKS_USER = b"proxyuser7"


def any_port(p):
    """SMTP on port 2626: found by its first bytes with --ports any."""
    c = Conn(p, client=("192.0.2.80", 40040), server=("198.51.100.26", 2626))
    c.handshake()
    dialogue(c, b"SMTP on port 2626")
    c.close()


def any_port_midstream(p):
    """The capture starts after the handshake, the server's greeting
    first; the server's port (50025) is the higher one, so the side
    that answers, not the port, says who the server is. A second
    connection starts later still: a MAIL answered by 250."""
    c = Conn(p, client=("192.0.2.81", 40050), server=("198.51.100.27", 50025))
    c.capture(False)
    c.handshake()
    c.capture(True)
    dialogue(c, b"Seen from the greeting on")
    c.close()
    c = Conn(p, client=("192.0.2.82", 40051), server=("198.51.100.27", 50025))
    c.capture(False)
    c.handshake()
    c.server(BANNER)
    c.client(EHLO)
    c.server(EHLO_REPLY)
    c.capture(True)
    c.client(MAIL)
    c.server(OK_MAIL)
    c.client(RCPT)
    c.server(OK_RCPT)
    c.client(DATA)
    c.server(GO_AHEAD)
    c.client(message(b"Seen from MAIL on") + b".\r\n")
    c.server(QUEUED)
    c.client(QUIT)
    c.server(BYE)
    c.close()


def http_connect(p):
    """SMTP through an HTTP proxy on 3128: CONNECT, 200, then the
    dialogue with the mail server."""
    c = Conn(p, client=("192.0.2.83", 40060), server=("203.0.113.8", 3128))
    c.handshake()
    c.client(b"CONNECT mx.example.test:25 HTTP/1.1\r\n"
             b"Host: mx.example.test:25\r\n"
             b"Proxy-Authorization: Basic cHJveHl1c2VyNzpzZWNyZXQ=\r\n"
             b"User-Agent: crafted/1.0\r\n\r\n")
    c.server(b"HTTP/1.1 200 Connection established\r\n"
             b"Via: 1.1 proxy.example.test\r\n\r\n")
    dialogue(c, b"Through an HTTP CONNECT proxy")
    c.close()


def socks5_auth(p):
    """SMTP through a SOCKS5 proxy on 1080 with username/password
    authentication (RFC 1929), then a second client that sends its whole
    handshake at once and names the server by IPv4."""
    c = Conn(p, client=("192.0.2.84", 40070), server=("203.0.113.9", 1080))
    c.handshake()
    c.client(b"\x05\x02\x00\x02")
    c.server(b"\x05\x02")
    c.client(b"\x01" + bytes([len(SOCKS_USER)]) + SOCKS_USER +
             bytes([len(SOCKS_PASSWORD)]) + SOCKS_PASSWORD)
    c.server(b"\x01\x00")
    c.client(b"\x05\x01\x00\x03\x0fmx.example.test\x00\x19")
    c.server(b"\x05\x00\x00\x01\xcb\x00\x71\x09\x9c\x41")
    dialogue(c, b"Through a SOCKS5 proxy")
    c.close()
    c = Conn(p, client=("192.0.2.85", 40071), server=("203.0.113.9", 1080))
    c.handshake()
    c.client(b"\x05\x01\x00" + b"\x05\x01\x00\x01\xc6\x33\x64\x19\x00\x19")
    c.server(b"\x05\x00" + b"\x05\x00\x00\x01\xcb\x00\x71\x09\x9c\x42")
    dialogue(c, b"SOCKS5 sent at once")
    c.close()


def socks4(p):
    """SMTP through SOCKS4 (an IPv4 address) and SOCKS4a (a host name)."""
    c = Conn(p, client=("192.0.2.86", 40080), server=("203.0.113.10", 1080))
    c.handshake()
    c.client(b"\x04\x01\x00\x19\xc6\x33\x64\x19ident7\x00")
    c.server(b"\x00\x5a\x00\x00\x00\x00\x00\x00")
    dialogue(c, b"Through SOCKS4")
    c.close()
    c = Conn(p, client=("192.0.2.86", 40081), server=("203.0.113.10", 1080))
    c.handshake()
    c.client(b"\x04\x01\x02\x4b\x00\x00\x00\x01\x00mail.example.test\x00")
    c.server(b"\x00\x5a\x00\x00\x00\x00\x00\x00")
    dialogue(c, b"Through SOCKS4a")
    c.close()


def not_smtp(p):
    """What is not SMTP, on ports under detection: HTTP, TLS, SSH, an FTP
    server greeting 220 answered by USER, a CONNECT tunnel carrying TLS, a
    SOCKS5 proxy refusing the password, a client and a server that both
    send numbers, and binary junk."""
    c = Conn(p, client=("192.0.2.90", 40090), server=("203.0.113.20", 80))
    c.handshake()
    c.client(b"GET / HTTP/1.1\r\nHost: www.example.test\r\n\r\n")
    c.server(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    c.close()
    c = Conn(p, client=("192.0.2.90", 40091), server=("203.0.113.20", 443))
    c.handshake()
    c.client(b"\x16\x03\x01\x00\x2a\x01\x00\x00\x26\x03\x03" + bytes(38))
    c.server(b"\x16\x03\x03\x00\x30\x02" + bytes(47))
    c.close()
    c = Conn(p, client=("192.0.2.90", 40092), server=("203.0.113.20", 22))
    c.handshake()
    c.server(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    c.client(b"SSH-2.0-OpenSSH_9.6\r\n")
    c.close()
    c = Conn(p, client=("192.0.2.90", 40093), server=("203.0.113.20", 21))
    c.handshake()
    c.server(b"220 (vsFTPd 3.0.3)\r\n")
    c.client(b"USER anonymous\r\n")
    c.server(b"331 Please specify the password.\r\n")
    c.client(b"PASS guest\r\n")
    c.server(b"230 Login successful.\r\n")
    c.client(b"QUIT\r\n")
    c.server(b"221 Goodbye.\r\n")
    c.close()
    c = Conn(p, client=("192.0.2.90", 40094), server=("203.0.113.21", 3128))
    c.handshake()
    c.client(b"CONNECT www.example.test:443 HTTP/1.1\r\n"
             b"Host: www.example.test:443\r\n\r\n")
    c.server(b"HTTP/1.1 200 Connection established\r\n\r\n")
    c.client(b"\x16\x03\x01\x00\x2a\x01\x00\x00\x26\x03\x03" + bytes(38))
    c.server(b"\x16\x03\x03\x00\x30\x02" + bytes(47))
    c.close()
    c = Conn(p, client=("192.0.2.90", 40095), server=("203.0.113.21", 1080))
    c.handshake()
    c.client(b"\x05\x01\x02")
    c.server(b"\x05\x02")
    c.client(b"\x01" + bytes([len(SOCKS_USER)]) + SOCKS_USER +
             bytes([len(SOCKS_PASSWORD)]) + SOCKS_PASSWORD)
    c.server(b"\x01\x01")
    c.close()
    c = Conn(p, client=("192.0.2.90", 40096), server=("203.0.113.22", 7000))
    c.handshake()
    c.client(b"200 hello\r\n")
    c.server(b"250 hello\r\n")
    c.close()
    c = Conn(p, client=("192.0.2.90", 40097), server=("203.0.113.22", 7001))
    c.handshake()
    c.client(bytes(range(256)) * 12)
    c.server(bytes(range(255, -1, -1)) * 12)
    c.close()

def no_greeting(p):
    """Connections that never became SMTP on port 25: one established
    whose server never says 220 (the client gives up after 30 s), one
    answered with a TLS ServerHello (implicit TLS on 25), one with an
    SSH banner."""
    c = Conn(p, client=("192.0.2.81", 40081))
    c.handshake()
    p.tick(30 * 1000000)
    c.close()
    c = Conn(p, client=("192.0.2.82", 40082), server=("198.51.100.26", 25))
    c.handshake()
    c.server(b"\x16\x03\x03\x00\x2a\x02\x00\x00\x26\x03\x03" + bytes(38))
    c.client(b"EHLO client.test\r\n")
    c.close()
    c = Conn(p, client=("192.0.2.83", 40083), server=("198.51.100.27", 25))
    c.handshake()
    c.server(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    c.close(first="server")

def gave_up(p):
    """Clients that stop waiting: one sends its message and closes after
    60 s with no reply to it (a tarpit, a slow content filter); one resets
    30 s after RCPT; one says QUIT and closes before the 221 (no alert);
    and a server that closes with MAIL unanswered (the client did not
    give up: no alert)."""
    c = Conn(p, client=("192.0.2.91", 40091), server=("198.51.100.31", 25))
    c.handshake()
    c.server(b"220 mx.example.test ESMTP\r\n")
    c.client(b"EHLO client.test\r\n")
    c.server(b"250-mx.example.test\r\n250 PIPELINING\r\n")
    c.client(b"MAIL FROM:<a@client.test>\r\n")
    c.server(b"250 2.1.0 Ok\r\n")
    c.client(b"RCPT TO:<b@example.test>\r\n")
    c.server(b"250 2.1.5 Ok\r\n")
    c.client(b"DATA\r\n")
    c.server(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    c.client(b"Subject: waiting\r\n\r\nhello\r\n.\r\n")
    p.tick(60 * 1000000)
    c.close()
    c = Conn(p, client=("192.0.2.92", 40092), server=("198.51.100.31", 25))
    c.handshake()
    c.server(b"220 mx.example.test ESMTP\r\n")
    c.client(b"EHLO client.test\r\n")
    c.server(b"250 mx.example.test\r\n")
    c.client(b"MAIL FROM:<a@client.test>\r\n")
    c.server(b"250 2.1.0 Ok\r\n")
    c.client(b"RCPT TO:<c@example.test>\r\n")
    p.tick(30 * 1000000)
    c.rst("client")
    c = Conn(p, client=("192.0.2.93", 40093), server=("198.51.100.31", 25))
    c.handshake()
    c.server(b"220 mx.example.test ESMTP\r\n")
    c.client(b"HELO client.test\r\n")
    c.server(b"250 mx.example.test\r\n")
    c.client(b"QUIT\r\n")
    p.tick(1000000)
    c.close()
    c = Conn(p, client=("192.0.2.94", 40094), server=("198.51.100.31", 25))
    c.handshake()
    c.server(b"220 mx.example.test ESMTP\r\n")
    c.client(b"HELO client.test\r\n")
    c.server(b"250 mx.example.test\r\n")
    c.client(b"MAIL FROM:<a@client.test>\r\n")
    p.tick(5 * 1000000)
    c.close(first="server")


CAPTURES = [
    ("midstream.pcap", midstream),
    ("no-syn.pcap", no_syn),
    ("no-last-ack.pcap", no_last_ack),
    ("one-side-client.pcap", one_side_client),
    ("lost-segment.pcap", lost_segment),
    ("lost-server-segment.pcap", lost_server_segment),
    ("no-acks-window.pcap", no_acks_window),
    ("smuggling-lf.pcap", smuggling_lf),
    ("smuggling-cr.pcap", smuggling_cr),
    ("starttls-injection.pcap", starttls_injection),
    ("auth-bruteforce.pcap", auth_bruteforce),
    ("bdat.pcap", bdat),
    ("mime-cut-attachment.pcap", mime_cut_attachment),
    ("nested-mail.pcap", nested_mail),
    ("starttls-stripped.pcap", starttls_stripped),
    ("auth-pipelined.pcap", auth_pipelined),
    ("any-port.pcap", any_port),
    ("any-port-midstream.pcap", any_port_midstream),
    ("http-connect.pcap", http_connect),
    ("socks5-auth.pcap", socks5_auth),
    ("socks4.pcap", socks4),
    ("not-smtp.pcap", not_smtp),
    ("no-greeting.pcap", no_greeting),
    ("gave-up.pcap", gave_up),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "..", "..", "pcaps", "crafted")
    os.makedirs(out, exist_ok=True)
    for name, build in CAPTURES:
        p = Pcap()
        build(p)
        path = os.path.join(out, name)
        p.write(path)
        print("wrote %s (%d packets)" % (os.path.relpath(path), len(p.records)))


if __name__ == "__main__":
    main()
