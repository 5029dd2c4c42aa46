#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check the email object of the recorded MIME captures against what their client sent."""

# usage: tests/email_object.py [SMTPSCOPE]   (default: ./smtpscope in the repository
# root). One line per capture: "PASS email/<capture>" or "FAIL email/<capture>:
# <why>"; exit status 1 when something failed.
#
# The captures are pcaps/mime-*.pcap, made by tools/record/client.py (see
# pcaps/README.md). The files that client attached were saved byte for byte
# in pcaps/mime-files/: every attachment's size and hash.sha256 must be
# those of its file. Subjects, display names and addresses are the strings
# the client encoded (RFC 2047 B and Q, RFC 2231), compared exactly.
# The message itself is rebuilt with the recording client's own code (it is
# deterministic): its size and SHA-256 must be the transaction's, and each
# MIME part's type, decoded size and SHA-256 those of Python's email package.

import email
import email.policy
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools" / "record"))
import client  # noqa: E402  (tools/record/client.py: builds the messages)
FILES = REPO / "pcaps" / "mime-files"
DATE = "2024-01-02T08:30:00.000000+0000"  # Tue, 02 Jan 2024 09:30:00 +0100

# capture -> expected email fields (compared exactly; absent means absent)
# and the attachments: (file name in the message, file in pcaps/mime-files,
# mime type), in order.
EXPECT = {
    "mime-attachments": {
        "email": {
            "from": {"address": ["alice@client.test"],
                     "display_name": "Alice B\u00fccher"},
            "to": {"address": ["bob@example.test"]},
            "cc": None,
            "reply_to": None,
            "subject": "Quarterly report with two attachments",
            "subject_raw": None,
            "message_id": "<mime-attachments@client.test>",
            "origination_timestamp": DATE,
            "content_type": "multipart/mixed",
        },
        "attachments": [("report-2024.pdf", "report-2024.pdf", "application/pdf"),
                        ("logs.zip", "logs.zip", "application/zip")],
        "parts": ["multipart/mixed", "text/plain", "application/pdf",
                  "application/zip"],
    },
    "mime-alternative": {
        "email": {
            "from": {"address": ["alice@client.test"],
                     "display_name": "Alice Example"},
            "to": {"address": ["bob@example.test", "carol@example.test"]},
            "subject": "Newsletter: text, HTML and an inline image",
            "subject_raw": None,
            "message_id": "<mime-alternative@client.test>",
            "origination_timestamp": DATE,
            "content_type": "multipart/mixed",
        },
        "attachments": [("logo.png", "logo.png", "image/png")],
        "parts": ["multipart/mixed", "multipart/alternative", "text/plain",
                  "text/html", "image/png"],
        # the first one is cut by a quoted-printable soft line break
        "urls": ["https://www.example.test/releases/2024-01?lang=en&ref=newsletter",
                 "http://downloads.example.test/files/tool-1.2.3.tar.gz"],
    },
    "mime-attached-eml": {
        "email": {
            # the outer headers; the attached message's From, To, Cc,
            # Reply-To, Subject, Date and Message-ID must not show
            "from": {"address": ["alice@client.test"],
                     "display_name": "Alice Example"},
            "to": {"address": ["bob@example.test"]},
            "cc": None,
            "reply_to": {"address": ["alice-replies@client.test"]},
            "subject": "Fwd: a message attached as message/rfc822",
            "message_id": "<mime-attached-eml@client.test>",
            "origination_timestamp": DATE,
            "content_type": "multipart/mixed",
        },
        "attachments": [("forwarded.eml", "forwarded.eml", "message/rfc822"),
                        ("inner-data.csv", "inner-data.csv", "text/csv")],
        "parts": ["multipart/mixed", "text/plain", "message/rfc822",
                  "multipart/mixed", "text/plain", "text/csv"],
    },
    "mime-encoded-headers": {
        "email": {
            "from": {"address": ["alice@client.test"],
                     "display_name": "Zo\u00eb \u00c5ngstr\u00f6m"},
            # quoted commas, a group (Project Team: carol, Dave M\u00fcller;)
            "to": {"address": ["jane@example.test", "bob@example.test",
                               "carol@example.test", "dave@example.test",
                               "erin@example.test"]},
            "cc": {"address": ["postmaster@example.test"]},
            "subject": "Re: Pr\u00fcfbericht \u2013 Gr\u00f6\u00dfe \u65e5\u672c "
                       "und caf\u00e9 cr\u00e8me",
            "subject_raw": "Re: =?utf-8?b?UHLDvGZiZXJpY2h0IOKAkyBHcsO2w59lIOaXpeacrA==?="
                           " und =?iso-8859-1?q?caf=E9_cr=E8me?=",
            "message_id": "<mime-encoded-headers@client.test>",
            "in_reply_to": "<ref-11@client.test>",
            "references_count": 12,
            "origination_timestamp": DATE,
            "content_type": "multipart/mixed",
            "eight_bit": False,
        },
        "attachments": [("Gr\u00f6\u00dfe r\u00e9sum\u00e9 \u65e5\u672c.txt",
                         "encoded-name.txt", "text/plain")],
        "parts": ["multipart/mixed", "text/plain", "text/plain"],
    },
}


def run(binary, pcap, outdir):
    """The events of pcap, messages and attachments extracted to outdir
    (no extraction if outdir is None)."""
    extract = ["--extract", outdir, "--extract-attachments"] if outdir else []
    proc = subprocess.run([binary, "-r", str(pcap)] + extract,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=120, check=False)
    if proc.returncode != 0:
        raise RuntimeError("exit status %d: %s" % (
            proc.returncode, proc.stderr.decode("utf-8", "replace").strip()[-200:]))
    return [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()
            if line.strip()]


def rebuild(name):
    """The message bytes the recording client sent for this scenario."""
    sent = []
    saved = client.send_mime, client.log, client.FILES_DIR
    client.send_mime = lambda msg, rcpts, envelope_from=None: sent.append(
        msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))
    client.log, client.FILES_DIR = (lambda text: None), None
    try:
        client.SCENARIOS[name]()
    finally:
        client.send_mime, client.log, client.FILES_DIR = saved
    return sent[0]


def python_parts(data):
    """(type, decoded size, sha256) of each MIME entity, as walk() meets
    them; containers (multipart, message/rfc822) with None."""
    out = []
    for p in email.message_from_bytes(data, policy=email.policy.compat32).walk():
        if p.is_multipart() or p.get_content_type() == "message/rfc822":
            out.append((p.get_content_type(), None, None))
        else:
            d = p.get_payload(decode=True)
            out.append((p.get_content_type(), len(d),
                        hashlib.sha256(d).hexdigest()))
    return out


def check_parts(name, t, email_obj):
    errs = []
    data = rebuild(name)
    if t["smtp"].get("size") != len(data) or \
            t["smtp"].get("sha256") != hashlib.sha256(data).hexdigest():
        errs.append("message size/sha256 %s/%s, the client sent %d bytes, %s" % (
            t["smtp"].get("size"), t["smtp"].get("sha256"), len(data),
            hashlib.sha256(data).hexdigest()))
    ours = email_obj.get("parts", [])
    py = python_parts(data)
    if len(ours) != len(py):
        return errs + ["%d parts, Python's email package finds %d" % (
            len(ours), len(py))]
    for i, (p, (ptype, size, sha)) in enumerate(zip(ours, py)):
        if p.get("type") != ptype:
            errs.append("part %d: type %s, expected %s" % (i, p.get("type"), ptype))
        # message/rfc822 is checked as an attachment (size and hash of
        # the attached message), multiparts have no content of their own
        elif size is not None and (p.get("size"), p.get("sha256")) != (size, sha):
            errs.append("part %d (%s): size/sha256 %s/%s, expected %d/%s" % (
                i, ptype, p.get("size"), p.get("sha256"), size, sha))
    return errs


def check(name, exp, events):
    txns = [e for e in events if e.get("event_type") == "smtp_transaction"]
    if len(txns) != 1:
        return ["%d smtp_transaction events, expected 1" % len(txns)]
    t = txns[0]
    errs = []
    if t["smtp"].get("status") != "queued":
        errs.append("status %r, expected 'queued'" % t["smtp"].get("status"))
    em = t.get("email")
    if not isinstance(em, dict):
        return errs + ["no email object"]
    for key, want in exp["email"].items():
        got = em.get(key)
        if got != want:
            errs.append("email.%s is %s, expected %s" % (
                key, json.dumps(got, ensure_ascii=False),
                json.dumps(want, ensure_ascii=False)))
    types = [p.get("type") for p in em.get("parts", [])]
    if types != exp["parts"]:
        errs.append("part types %s, expected %s" % (types, exp["parts"]))
    atts = em.get("attachments", [])
    if len(atts) != len(exp["attachments"]):
        errs.append("%d attachments, expected %d" % (len(atts),
                                                     len(exp["attachments"])))
    for a, (fname, path, mtype) in zip(atts, exp["attachments"]):
        f = a.get("file", {})
        data = (FILES / path).read_bytes()
        want = {"name": fname, "mime_type": mtype, "size": len(data),
                "hash": {"sha256": hashlib.sha256(data).hexdigest()}}
        for key, val in want.items():
            if f.get(key) != val:
                errs.append("attachment %s: %s is %s, expected %s (%s)" % (
                    json.dumps(fname, ensure_ascii=False), key,
                    json.dumps(f.get(key), ensure_ascii=False),
                    json.dumps(val, ensure_ascii=False),
                    "pcaps/mime-files/" + path))
    errs += check_parts(name, t, em)
    for url in exp.get("urls", []):
        if url not in em.get("urls", []):
            errs.append("URL %s missing from email.urls %s" % (
                url, em.get("urls")))
    return errs


def check_extract(name, exp, outdir, events):
    """--extract-attachments wrote each attachment, and only those, as
    DIR/<sha256> with the bytes of the file the client attached; the
    message is DIR/<flow_id>-<n>.eml; no temporary file is left."""
    txn = [e for e in events if e.get("event_type") == "smtp_transaction"][0]
    eml = "%d-%d.eml" % (txn["flow_id"], txn["smtp"]["transaction"])
    want = {eml: rebuild(name)}
    for _, path, _ in exp["attachments"]:
        data = (FILES / path).read_bytes()
        want[hashlib.sha256(data).hexdigest()] = data
    got = sorted(os.listdir(outdir))
    if got != sorted(want):
        return ["extracted files %s, expected %s" % (got, sorted(want))]
    return ["extracted %s differs from %s" % (f, "the message the client sent"
                                              if f == eml else "its attachment")
            for f in got if (Path(outdir) / f).read_bytes() != want[f]]


def check_cut(binary):
    """pcaps/crafted/mime-cut-attachment.pcap: the client resets the
    connection half way through a base64 attachment. The part is marked
    truncated, without a hash, and saved as <flow_id>-<n>-part<k>.partial
    holding the decoded prefix of the file; the message as .eml.partial."""
    data = bytes(range(256)) * 16  # tools/craft/make-pcaps.py's attachment
    with tempfile.TemporaryDirectory() as out:
        events = run(binary, REPO / "pcaps" / "crafted" /
                     "mime-cut-attachment.pcap", out)
        t = [e for e in events if e.get("event_type") == "smtp_transaction"]
        if len(t) != 1:
            return ["%d smtp_transaction events, expected 1" % len(t)]
        t = t[0]
        parts = t["email"]["parts"]
        k = next(i for i, p in enumerate(parts) if p.get("name") == "data.bin")
        stem = "%d-%d" % (t["flow_id"], t["smtp"]["transaction"])
        errs = []
        if t["smtp"]["status"] != "incomplete":
            errs.append("status %s, expected incomplete" % t["smtp"]["status"])
        if not parts[k].get("truncated") or "sha256" in parts[k]:
            errs.append("part %d: %s, expected truncated without sha256" % (
                k, parts[k]))
        files = sorted(os.listdir(out))
        part = "%s-part%d.partial" % (stem, k)
        want = sorted([stem + ".eml.partial", part])
        if files != want:
            return errs + ["extracted files %s, expected %s" % (files, want)]
        got = (Path(out) / part).read_bytes()
        if len(got) != parts[k]["size"] or not data.startswith(got) or \
                len(got) < len(data) // 3:
            errs.append("%s: %d bytes, not the first %d bytes of the file" % (
                part, len(got), parts[k]["size"]))
        return errs


def check_same_without_extract(binary, pcap, events):
    """Without extraction the parser runs on the hashing thread, behind
    the packet path (with it, in the packet path): the events must be the
    same, but for the extraction counters of the stats event."""
    plain = [e for e in run(binary, pcap, None) if e["event_type"] != "stats"]
    events = [e for e in events if e["event_type"] != "stats"]
    if plain == events:
        return []
    for a, b in zip(plain, events):
        if a != b:
            return ["without --extract-attachments: %s\ninstead of %s" % (
                json.dumps(a, sort_keys=True)[:600],
                json.dumps(b, sort_keys=True)[:600])]
    return ["without --extract-attachments: %d events instead of %d" % (
        len(plain), len(events))]


def report(name, errs):
    if not errs:
        print("PASS %s" % name)
        return False
    more = " (+%d more)" % (len(errs) - 1) if len(errs) > 1 else ""
    print("FAIL %s: %s%s" % (name, errs[0], more))
    for e in errs[1:]:
        print("    %s" % e)
    return True


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else str(REPO / "smtpscope")
    if not os.access(binary, os.X_OK):
        print("FAIL email: %s is not an executable" % binary)
        return 1
    failed = False
    for name, exp in EXPECT.items():
        pcap = REPO / "pcaps" / (name + ".pcap")
        with tempfile.TemporaryDirectory() as out:
            try:
                events = run(binary, pcap, out)
                failed |= report("email/" + name, check(name, exp, events))
                failed |= report("extract/" + name,
                                 check_extract(name, exp, out, events))
                failed |= report("email-threaded/" + name,
                                 check_same_without_extract(binary, pcap,
                                                            events))
            except (OSError, RuntimeError, ValueError,
                    subprocess.TimeoutExpired) as e:
                failed |= report("email/" + name, [str(e)])
    try:
        failed |= report("extract/cut-attachment", check_cut(binary))
    except (OSError, RuntimeError, ValueError, KeyError, StopIteration,
            subprocess.TimeoutExpired) as e:
        failed |= report("extract/cut-attachment", [repr(e)])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
