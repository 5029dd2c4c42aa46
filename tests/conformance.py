#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check smtpscope's smtp_transaction events against Zeek's expected smtp.log for Zeek's SMTP test traces."""

# usage: tests/conformance.py [-v] [SMTPSCOPE]   (default SMTPSCOPE: ./smtpscope
# in the repository root). The corpus is ../shared/corpus/zeek next to the
# repository (see its SOURCE.md), or $SMTPSCOPE_CORPUS. One line per trace:
# "PASS conformance/<trace>", "PASS conformance/<trace> (known difference:
# <field>)" for a difference listed in tests/KNOWN-DIFFS.md, or
# "FAIL conformance/<trace>: <reason>". Exit status 1 when something failed.
#
# How a Zeek row and one of our transactions are paired, and compared:
#
# * Connection: Zeek's id.orig_h/orig_p/resp_h/resp_p is our src_ip/src_port/
#   dest_ip/dest_port; if one 4-tuple holds several connections, Zeek's uids
#   and our smtp.session numbers are paired in order of appearance.
# * Transaction: Zeek's trans_depth is not a transaction index. It is 1 + the
#   number of messages whose end ("." or BDAT ... LAST) got a reply so far,
#   so a failed transaction keeps the depth of the next one (two rows can
#   share a depth). We give each of our transactions the depth Zeek would
#   give it (1 + earlier transactions of the session with a body and a reply
#   to its end) and pair rows and transactions by (depth, order within that
#   depth).
# * A Zeek row with no mailfrom, no rcptto and tls=T is logged only because
#   of STARTTLS: there is no transaction, so it is compared with our
#   smtp_session (helo, tls.accepted) and with the replies of the session.
# * helo, mailfrom, rcptto (as a set): compared after stripping <> and
#   surrounding blanks; Zeek's "-" (unset) equals our absent or empty value.
# * last_reply: Zeek's is the last line of the last reply of any kind sent
#   while its log record was open; ours is the transaction's data_reply, else
#   its last answered RCPT, else its MAIL reply. Codes are compared as
#   numbers and texts after removing an RFC 3463 enhanced code (Zeek keeps it
#   in the text, we split it off); of a multi-line reply, the last line.
#   When they differ and our own command/reply stream (--commands) shows
#   that Zeek's value is the reply to a line outside the transaction (an
#   unknown command, a body line sent after a refused DATA, QUIT...), that
#   is what Zeek's definition means and not a difference; the transaction
#   must then end on the last reply to its own MAIL/RCPT/DATA/BDAT/message.
# * Message headers, against the transaction's email object: date (Zeek's
#   raw Date parsed and put in UTC = our origination_timestamp, or our raw
#   "date" when it cannot be parsed); from and reply_to (Zeek's raw header
#   split into mailboxes with email.utils.getaddresses, RFC 2047 names
#   decoded: the addresses, in order, = our address list, and From's first
#   display name = our from.display_name); to and cc (Zeek's set has one
#   element per mailbox as written: their addresses as a set = ours);
#   msg_id, in_reply_to (raw = our message_id, in_reply_to); subject (raw =
#   our subject_raw, else subject); path (Zeek's id.resp_h, id.orig_h, then
#   the Received IPs newest first, skipping an IP equal to the previous one
#   = the same built from our email.path). Zeek's "-" = our field absent.
# * An extra transaction of ours that no baseline of the trace logs fails.

import argparse
import base64
import datetime
import email.header
import email.utils
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = "../shared/corpus/zeek"
KNOWN_DIFFS = REPO / "tests" / "KNOWN-DIFFS.md"
TXN_VERBS = {"MAIL", "RCPT", "DATA", "BDAT", "<MESSAGE>"}
ENHANCED = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}(?: +|$)")
HEX = re.compile(rb"\\x([0-9a-fA-F]{2})")


def unhex(s):
    """Both Zeek and smtpscope write odd bytes as \\xHH: compare the bytes."""
    return HEX.sub(lambda m: bytes([int(m.group(1), 16)]),
                   s.encode("utf-8", "surrogateescape")).decode(
                       "utf-8", "replace")


def addr(s):
    if s is None:
        return ""
    s = s.strip()
    if s.startswith("<"):
        s = s[1:]
    if s.endswith(">"):
        s = s[:-1]
    return s.strip()


def norm_reply(code, text):
    """(code, text) of a reply's last line, enhanced code removed."""
    if not code:
        return None
    text = unhex(text or "").split("\n")[-1]
    return int(code), ENHANCED.sub("", text.strip()).rstrip()


def q(s):
    return "'%s'" % s if s else "-"


def show(r):
    return "-" if r is None else "'%d %s'" % r if r[1] else "'%d'" % r[0]


# ---- Zeek side ----

def parse_zeek_log(path):
    sep, set_sep, empty, unset = "\t", ",", "(empty)", "-"
    fields, rows = None, []
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#separator "):
                sep = line.split(" ", 1)[1].encode().decode("unicode_escape")
            elif line.startswith("#"):
                key, _, val = line[1:].partition(sep)
                if key == "set_separator":
                    set_sep = val
                elif key == "empty_field":
                    empty = val
                elif key == "unset_field":
                    unset = val
                elif key == "fields":
                    fields = val.split(sep)
            elif line and fields:
                row = {}
                for name, val in zip(fields, line.split(sep)):
                    if val == unset:
                        row[name] = None
                    elif val == empty:
                        row[name] = []
                    else:
                        row[name] = val
                for key in ("rcptto", "to", "cc", "path"):
                    if isinstance(row.get(key), str):
                        row[key] = row[key].split(set_sep)
                rows.append(row)
    return rows


def baseline_traces(corpus):
    """{baseline file name: trace file name}, from the table in SOURCE.md."""
    out = {}
    try:
        text = (corpus / "SOURCE.md").read_text(encoding="utf-8")
    except OSError:
        return out
    for line in text.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not line.lstrip().startswith("|"):
            continue
        for name in re.findall(r"[\w.\-]+\.smtp\.log", cells[0]):
            out[name] = cells[2]
    return out


def find_trace(corpus, name):
    for cand in (name, name + ".gz"):
        if (corpus / cand).is_file():
            return corpus / cand
    return None


# ---- our side ----

# Options a trace needs besides --commands: SMTP that no port tells apart
# (an HTTP CONNECT tunnel to a proxy on 8240) is found by content.
TRACE_OPTIONS = {
    "connect-with-smtp.pcap": ["--ports", "any"],
}


def run_tool(binary, trace):
    # a .pcap.gz is read as it is: smtpscope decompresses it
    name = trace.name[:-3] if trace.name.endswith(".gz") else trace.name
    proc = subprocess.run([str(binary), "-r", str(trace), "--commands"] +
                          TRACE_OPTIONS.get(name, []),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=300, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError("smtpscope exited with %d%s" % (
            proc.returncode, ": " + err[-1] if err else ""))
    sessions = {}  # (4-tuple) -> {session number: {...}}, in order
    for n, line in enumerate(proc.stdout.decode("utf-8", "replace").splitlines()):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError as e:
            raise RuntimeError("output line %d is not JSON: %s" % (n + 1, e))
        if "smtp" not in ev or "src_ip" not in ev:
            continue
        key = (ev["src_ip"], str(ev["src_port"]), ev["dest_ip"],
               str(ev["dest_port"]))
        s = sessions.setdefault(key, {}).setdefault(
            ev["smtp"].get("session"),
            {"txns": [], "cmds": [], "info": None})
        kind = ev.get("event_type")
        if kind == "smtp_transaction":
            t = dict(ev["smtp"])
            t["_email"] = ev.get("email")
            s["txns"].append(t)
        elif kind == "smtp_command":
            s["cmds"].append(ev["smtp"])
        elif kind == "smtp_session":
            s["info"] = ev["smtp"]
    return {k: list(v.values()) for k, v in sessions.items()}


def own_last_reply(t):
    if t.get("data_reply"):
        r = t["data_reply"]
        return norm_reply(r.get("code"), r.get("text"))
    for r in reversed(t.get("rcpt_to") or []):
        if r.get("code"):
            return norm_reply(r["code"], r.get("text"))
    r = t.get("mail_reply")
    return norm_reply(r.get("code"), r.get("text")) if r else None


def zeek_depths(txns):
    """The trans_depth Zeek gives each transaction (see the top)."""
    done, out = 0, []
    for t in sorted(txns, key=lambda t: t.get("transaction", 0)):
        out.append((done + 1, t))
        if t.get("data_reply") and t.get("body") and \
                t.get("status") != "incomplete":
            done += 1
    return out


def zeek_records(cmds):
    """Replay our command/reply stream the way Zeek's SMTP script logs it:
    a record per MAIL and per message end, kept when it saw MAIL, RCPT or
    STARTTLS. Gives what Zeek's last_reply means, from our own pairing."""
    recs, cur, bdat_last = [], None, False

    def new():
        return {"activity": False, "tls": False, "mail": False, "rcpt": False,
                "last": None, "last_cmd": None, "txn_last": None,
                "txn_last_cmd": None}

    def flush():
        nonlocal cur
        if cur["activity"]:
            recs.append(cur)
        cur = new()

    cur = new()
    for c in cmds:
        verb = (c.get("command") or "").upper()
        arg = c.get("argument") or ""
        if verb == "MAIL" and arg[:5].upper() == "FROM:":
            flush()
            cur["activity"] = cur["mail"] = True
        elif verb == "RCPT" and arg[:3].upper() == "TO:":
            cur["activity"] = cur["rcpt"] = True
        elif verb == "BDAT" and arg.endswith(" LAST"):
            bdat_last = True
        r = c.get("reply")
        if not r:
            continue
        rep = norm_reply(r.get("code"), r.get("text"))
        if rep is None:
            continue
        cur["last"], cur["last_cmd"] = rep, c.get("command") or "?"
        if verb in TXN_VERBS:
            cur["txn_last"], cur["txn_last_cmd"] = rep, cur["last_cmd"]
        if verb == "STARTTLS" and rep[0] == 220:
            cur["activity"] = cur["tls"] = True
        if verb == "<MESSAGE>" or (verb == "BDAT" and bdat_last):
            bdat_last = False
            flush()
    flush()
    return recs


# ---- comparison ----

def conn_name(row):
    return "%s:%s->%s:%s" % (row["id.orig_h"], row["id.orig_p"],
                             row["id.resp_h"], row["id.resp_p"])


def compare_baseline(label, rows, ours, used):
    """Failures as (field, message); used collects matched transactions."""
    fails = []
    by_conn = {}
    for row in rows:
        key = (row["id.orig_h"], row["id.orig_p"], row["id.resp_h"],
               row["id.resp_p"])
        by_conn.setdefault(key, {}).setdefault(row.get("uid"), []).append(row)
    for key, uids in by_conn.items():
        sessions = ours.get(key, [])
        for k, (uid, zrows) in enumerate(uids.items()):
            conn = conn_name(zrows[0])
            if k >= len(sessions):
                fails.append(("connection", "%s %s: connection not seen "
                              "(Zeek logs %d row(s))"
                              % (label, conn, len(zrows))))
                continue
            fails += compare_session(label, conn, zrows, sessions[k], used)
    return fails


def compare_session(label, conn, zrows, sess, used):
    fails = []
    depth_map = {}
    for depth, t in zeek_depths(sess["txns"]):
        depth_map.setdefault(depth, []).append(t)
    recs = zeek_records(sess["cmds"])
    taken = {}
    for i, row in enumerate(zrows):
        rname = "%s row %d (%s, trans_depth %s" % (
            label, i + 1, conn, row["trans_depth"])
        rec = recs[i] if i < len(recs) else None
        zreply = None
        if row.get("last_reply"):
            code, _, text = unhex(row["last_reply"]).partition(" ")
            zreply = norm_reply(code if code.isdigit() else 0, text)
        if row.get("mailfrom") is None and not row.get("rcptto") and \
                row.get("tls") == "T":
            fails += compare_tls_row(rname + ", STARTTLS only)", row,
                                     zreply, sess, recs)
            continue
        depth = int(row["trans_depth"])
        n = taken.get(depth, 0)
        cands = depth_map.get(depth, [])
        if n >= len(cands):
            fails.append(("transaction", "%s): no transaction of ours "
                          "(we have %d)" % (rname, len(sess["txns"]))))
            continue
        taken[depth] = n + 1
        t = cands[n]
        used.add(id(t))
        rname = "%s, our transaction %s)" % (rname, t.get("transaction"))
        zh, oh = (row.get("helo") or "").strip(), (t.get("helo") or "").strip()
        if unhex(zh) != unhex(oh):
            fails.append(("helo", "%s helo: expected %s, got %s"
                          % (rname, q(zh), q(oh))))
        zm, om = addr(row.get("mailfrom")), addr(t.get("mail_from"))
        if unhex(zm) != unhex(om):
            fails.append(("mailfrom", "%s mailfrom: expected %s, got %s"
                          % (rname, q(zm), q(om))))
        zr = {unhex(addr(a)) for a in row.get("rcptto") or []}
        orc = {unhex(addr(r.get("address"))) for r in t.get("rcpt_to") or []}
        if zr != orc:
            fails.append(("rcptto", "%s rcptto: missing %s, extra %s"
                          % (rname, sorted(zr - orc) or "none",
                             sorted(orc - zr) or "none")))
        fails += compare_headers(rname, row, t.get("_email") or {})
        own = own_last_reply(t)
        if own == zreply:
            continue
        if rec and zreply is not None and rec["last"] == zreply and \
                (rec["last_cmd"] or "").upper() not in TXN_VERBS:
            # Zeek's value answers a line outside the transaction.
            if own != rec["txn_last"]:
                fails.append(("last_reply", "%s last_reply: expected %s "
                              "(our reply to %s; Zeek's %s answers '%s', a "
                              "line outside the transaction), got %s" % (
                                  rname, show(rec["txn_last"]),
                                  rec["txn_last_cmd"], show(zreply),
                                  rec["last_cmd"], show(own))))
            continue
        fails.append(("last_reply", "%s last_reply: expected %s, got %s"
                      % (rname, show(zreply), show(own))))
    return fails


def mailboxes(values):
    """[(display name, address)] of Zeek's raw address strings: RFC 2047
    words decoded, quotes and brackets removed, addresses as written."""
    out = []
    for v in values or []:
        for name, address in email.utils.getaddresses([unhex(v)]):
            try:
                name = str(email.header.make_header(
                    email.header.decode_header(name)))
            except (ValueError, LookupError, UnicodeError):
                pass
            out.append((name, address))
    return out


def zeek_date(value):
    """Zeek's raw Date in our origination_timestamp format, or None."""
    try:
        d = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if d is None or d.tzinfo is None:
        return None
    return d.astimezone(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.000000+0000")


def ip(s):
    try:
        return str(ipaddress.ip_address(s.strip()))
    except ValueError:
        return s.strip()


def compare_headers(rname, row, em):
    """Zeek's date, from, to, cc, reply_to, msg_id, in_reply_to, subject and
    path against our email object (see the top for the mapping)."""
    fails = []

    def diff(field, zval, oval):
        fails.append((field, "%s %s: expected %s, got %s" % (
            rname, field, json.dumps(zval, ensure_ascii=False),
            json.dumps(oval, ensure_ascii=False))))

    # date: Zeek's raw value, parsed and put in UTC; when it cannot be
    # parsed, ours is the raw "date" too
    zd = unhex(row["date"]) if row.get("date") else None
    od = em.get("origination_timestamp") or em.get("date")
    if zd is None:
        bad = od is not None
    else:
        bad = (zeek_date(zd) or zd) != od
    if bad:
        diff("date", zd, od)
    # from, reply_to: addresses, and From's first display name
    for field, key in (("from", "from"), ("reply_to", "reply_to")):
        zv = mailboxes([row[field]] if row.get(field) else [])
        ov = em.get(key) or {}
        if [a for _, a in zv] != (ov.get("address") or []):
            diff(field, row.get(field), ov or None)
        elif field == "from" and zv and zv[0][0] != ov.get("display_name", ""):
            diff("from_name", zv[0][0], ov.get("display_name"))
    # to, cc: Zeek's sets (an element per mailbox) against our addresses
    for field in ("to", "cc"):
        zv = sorted(a for _, a in mailboxes(row.get(field)))
        ov = sorted((em.get(field) or {}).get("address") or [])
        if zv != ov:
            diff(field, zv, ov)
    # raw strings
    for field, key in (("msg_id", "message_id"), ("in_reply_to", "in_reply_to")):
        zv = unhex(row[field]) if row.get(field) else None
        if zv != em.get(key):
            diff(field, zv, em.get(key))
    zs = unhex(row["subject"]) if row.get("subject") else None
    os_ = em.get("subject_raw", em.get("subject"))
    if zs != os_:
        diff("subject", zs, os_)
    # path: responder, originator, then the Received IPs newest first (Zeek
    # drops an IP equal to the one before it)
    if row.get("path"):
        ours = [ip(row["id.resp_h"]), ip(row["id.orig_h"])]
        for a in em.get("path") or []:
            if ip(a) != ours[-1]:
                ours.append(ip(a))
        zp = [ip(a) for a in row["path"]]
        if zp != ours:
            diff("path", zp, ours)
    return fails


def compare_tls_row(rname, row, zreply, sess, recs):
    fails = []
    info = sess.get("info") or {}
    zh, oh = (row.get("helo") or "").strip(), (info.get("helo") or "").strip()
    if unhex(zh) != unhex(oh):
        fails.append(("helo", "%s helo: expected %s, got %s"
                      % (rname, q(zh), q(oh))))
    if not (info.get("tls") or {}).get("accepted"):
        fails.append(("tls", "%s: Zeek saw STARTTLS accepted, our session "
                      "has tls.accepted false" % rname))
    got = next((r["last"] for r in recs if r["tls"]), None)
    if got != zreply:
        fails.append(("last_reply", "%s last_reply: expected %s, got %s"
                      % (rname, show(zreply), show(got))))
    return fails


def load_known(path):
    """{(trace, field): reason} from the table in KNOWN-DIFFS.md."""
    known = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return known
    for line in lines:
        if not line.lstrip().startswith("|"):
            continue
        cells = [c.strip().strip("`").strip()
                 for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0].lower() == "trace" or \
                set(cells[0]) <= set("-: "):
            continue
        known[(cells[0], cells[1])] = cells[2]
    return known


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("smtpscope", nargs="?", default=str(REPO / "smtpscope"),
                    help="the binary to test (default: ./smtpscope)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every difference, not only the first")
    args = ap.parse_args()

    env = os.environ.get("SMTPSCOPE_CORPUS")
    corpus = Path(env) if env else (REPO / DEFAULT_CORPUS)
    if not corpus.is_dir():
        print("SKIP conformance: %s not found" % (env or DEFAULT_CORPUS))
        return 0
    binary = Path(os.path.abspath(args.smtpscope))
    if not os.access(str(binary), os.X_OK):
        print("FAIL conformance: %s is not an executable" % binary)
        return 1
    known = load_known(KNOWN_DIFFS)
    mapping = baseline_traces(corpus)
    traces, failed = {}, False
    for log in sorted((corpus / "baselines").glob("*.smtp.log")):
        trace = mapping.get(log.name)
        if not trace:
            print("FAIL conformance/%s: no trace for it in SOURCE.md" % log.name)
            failed = True
            continue
        traces.setdefault(trace, []).append(log)

    for trace in sorted(traces):
        path = find_trace(corpus, trace)
        fails = []
        if path is None:
            fails.append(("run", "trace file not found in the corpus"))
        else:
            try:
                ours = run_tool(binary, path)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                fails.append(("run", str(e)))
                ours = None
            if ours is not None:
                used, seen = set(), set()
                # the plain baseline first, variants (same trace) after it
                for log in sorted(traces[trace], key=lambda p: len(p.name)):
                    label = re.sub(r"^scripts\.base\.protocols\.(smtp\.)?", "",
                                   log.name)[:-len(".smtp.log")]
                    for field, msg in compare_baseline(
                            label, parse_zeek_log(log), ours, used):
                        if (field, msg[len(label):]) not in seen:
                            seen.add((field, msg[len(label):]))
                            fails.append((field, msg))
                for key, sessions in ours.items():
                    for sess in sessions:
                        for t in sess["txns"]:
                            if id(t) not in used:
                                fails.append(("extra-transaction", "our "
                                              "transaction %s on %s:%s->%s:%s "
                                              "is in no Zeek log"
                                              % ((t.get("transaction"),) + key)))
        uniq = fails
        real = [f for f in uniq if (trace, f[0]) not in known]
        excused = sorted({f[0] for f in uniq if (trace, f[0]) in known})
        if real:
            failed = True
            more = " (+%d more; -v lists them)" % (len(real) - 1) \
                if len(real) > 1 and not args.verbose else ""
            print("FAIL conformance/%s: %s%s" % (trace, real[0][1], more))
            if args.verbose:
                for f in real[1:]:
                    print("    %s" % f[1])
        elif excused:
            print("PASS conformance/%s (known difference: %s)"
                  % (trace, ", ".join(excused)))
        else:
            print("PASS conformance/%s" % trace)
        if args.verbose:
            for f in uniq:
                if (trace, f[0]) in known:
                    print("    known: %s" % f[1])
        for (ktrace, kfield) in sorted(known):
            if ktrace == trace and kfield not in excused:
                print("note: %s: known difference '%s' did not occur; remove "
                      "it from tests/KNOWN-DIFFS.md?" % (trace, kfield),
                      file=sys.stderr)
    if not lost_auth_packets(binary, corpus):
        failed = True
    return 1 if failed else 0


B64RUN = re.compile(rb"[A-Za-z0-9+/]{4,}={0,2}")


def leaks(data, secret):
    """Does data hold 8 bytes of secret, as they are or base64 at any alignment?"""
    pieces = [secret[i:i + 8] for i in range(len(secret) - 7)]
    if any(p in data for p in pieces):
        return True
    for m in B64RUN.finditer(data):
        run = m.group(0).rstrip(b"=")
        for k in range(4):
            part = run[k:]
            part = part[:len(part) - len(part) % 4]
            try:
                dec = base64.b64decode(part)
            except ValueError:
                continue
            if any(p in dec for p in pieces):
                return True
    return False


def lost_auth_packets(binary, corpus):
    """Zeek's smtp.pcap (a real Exim session, AUTH LOGIN) with each packet of
    the exchange lost in turn: the AUTH line, a 334, the user line. The
    password line that follows must never show, in any mode, and the
    dialogue after the exchange must still be read."""
    sys.path.insert(0, str(REPO / "tests"))
    import pcaptool as pt
    path = find_trace(corpus, "smtp.pcap")
    if path is None:
        print("SKIP conformance/lost-auth-packets: smtp.pcap not in the corpus")
        return True
    cap = pt.read_pcap(str(path))
    payload = {}
    for i, p in enumerate(cap.packets):
        o = pt.tcp_offset(p.data)
        if o:
            t = o[1]
            payload[i] = p.data[t + (p.data[t + 12] >> 4) * 4:]
    auth = next(i for i, d in payload.items() if d.startswith(b"AUTH LOGIN"))
    # AUTH, 334, user, 334, password, 235
    steps = sorted(i for i in payload if auth <= i and payload[i])[:6]
    password = base64.b64decode(payload[steps[4]].strip())
    ok = True
    for lost, what in zip(steps[:4], ("AUTH line", "first 334", "user line",
                                      "second 334")):
        name = "conformance/lost-auth-packets (%s lost)" % what
        packets = [p for i, p in enumerate(cap.packets) if i != lost]
        with tempfile.TemporaryDirectory() as tmp:
            trace = os.path.join(tmp, "lost.pcap")
            with open(trace, "wb") as f:
                f.write(pt.pcap_bytes(cap.linktype, packets, cap.snaplen))
            why = None
            for opts in ([], ["--commands"], ["--transcript"], ["-T"],
                         ["--show-auth-user", "--commands", "--transcript"]):
                r = subprocess.run([str(binary), "-r", trace] + opts,
                                   capture_output=True, timeout=60)
                if r.returncode != 0:
                    why = "exit status %d with %s" % (r.returncode, opts)
                elif leaks(r.stdout + r.stderr, password):
                    why = "the password shows with %s" % (opts or "no option")
                elif opts == ["-T"] and (b"C: ********" not in r.stdout or
                                         b"C: MAIL FROM: <gurpartap@patriots.in>"
                                         not in r.stdout):
                    why = "-T lost the masked response or the MAIL command"
                if why:
                    break
        if why:
            print("FAIL %s: %s" % (name, why))
            ok = False
        else:
            print("PASS %s" % name)
    return ok


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. piped into head
        sys.exit(1)
