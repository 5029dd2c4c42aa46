#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""--extract tests: files are written safely in a directory others can write, within a budget."""

# usage: tests/extract.py [SMTPSCOPE]   (default build/smtpscope-san, the
# ASan/UBSan build). Prints one line per case, "PASS extract/<name>",
# "FAIL extract/<name>: <why>" or "SKIP extract/<name>: <why>", and exits 1
# if any case failed. A sanitizer report on stderr is a failure. Captures
# are made with tools/craft/craft.py in a temporary directory, removed at
# exit. Cases that plant files as another user, drop privileges (-Z) or
# mount a small tmpfs need root and are skipped without it.
#
# What an attacker who can write the directory plants is tried at every
# name the sensor uses or used: the final names (DIR/<flow_id>-<n>.eml,
# DIR/<sha256>) and the old predictable temporary names
# (DIR/.<flow_id>-<n>.eml.tmp, DIR/.<flow_id>-<n>-part<k>.tmp).

import functools
import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True   # leave no __pycache__ in tests/ or tools/
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SANITIZER_RE, Fail, Result, Skip, Suite, check  # noqa: E402
sys.path.insert(0, str(ROOT / "tools" / "craft"))
import craft  # noqa: E402

RUN_TIMEOUT = 30
FIFO_TIMEOUT = 20   # a run that opens a planted FIFO never ends
MODE = 0o640        # every extracted file, whatever the umask
VICTIM = b"precious: must never be overwritten\n"

BIN = None   # absolute path of the binary under test
TMP = None   # temporary directory of this run
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
ENV.pop("TZ", None)


SUITE = Suite("extract")
case = SUITE.case


# ---- running the binary ----

def run(args, prefix=(), umask=None, timeout=RUN_TIMEOUT):
    """Run the binary (from the repository root) and return a Result."""
    cmd = list(prefix) + [BIN] + [str(a) for a in args]

    def child():
        if umask is not None:
            os.umask(umask)
    try:
        p = subprocess.run(cmd, cwd=ROOT, env=ENV, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, preexec_fn=child)
    except subprocess.TimeoutExpired:
        raise Fail("timed out after %d s (a planted file was opened?): %s"
                   % (timeout, " ".join(map(str, args))))
    err = p.stderr.decode("utf-8", "replace")
    m = SANITIZER_RE.search(err)
    if m:
        raise Fail("sanitizer report: %s" % err[m.start():m.start() + 200])
    check(p.returncode >= 0, "killed by signal %d" % -p.returncode)
    return Result(p.returncode, p.stdout, err)


def run_ok(args, quiet=True, **kw):
    """A run that must succeed (silently unless quiet is False)."""
    r = run(args, **kw)
    check(r.rc == 0, "%s: %s" % (" ".join(map(str, args)), r.brief()))
    if quiet:
        check(r.err == "", "unexpected stderr %r" % r.err[:300])
    return r


def expect_error(r, code, pattern):
    """Exit code, empty stdout, and exactly one stderr line matching pattern."""
    check(r.rc == code, "expected exit %d, got %s" % (code, r.brief()))
    check(r.out == b"", "expected no stdout, got %r" % r.out[:200])
    check(len(r.err_lines) == 1, "expected one stderr line, got %r" % r.err[:300])
    check(re.fullmatch(pattern, r.err_lines[0]) is not None,
          "stderr %r does not match %r" % (r.err_lines[0], pattern))


def parse(out):
    return [json.loads(line) for line in out.decode("utf-8").splitlines()]


def stats_of(r):
    events = parse(r.out)
    check(events and events[-1]["event_type"] == "stats", "no final stats event")
    return events[-1]["stats"]


def expect_stats(r, **want):
    """The extraction counters of the run's stats event, exactly."""
    st = stats_of(r)
    keys = ["extracted_files", "extract_errors", "extract_bytes",
            "extract_skipped", "extract_existing"]
    got = {k: st.get(k) for k in keys}
    exp = dict(got)
    exp.update(want)
    check(got == exp, "stats %r, expected %r" % (got, exp))


def without_stats(out):
    return [e for e in parse(out) if e["event_type"] != "stats"]


# ---- users, files, directories ----

def is_root():
    return os.geteuid() == 0


def need_root():
    if not is_root():
        raise Skip("not root")


@functools.lru_cache(maxsize=None)
def nobody():
    """uid and gid of nobody/nogroup, checked to be usable with setpriv."""
    need_root()
    if not shutil.which("setpriv"):
        raise Skip("setpriv not installed")
    try:
        ids = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
    except KeyError:
        raise Skip("no user nobody or group nogroup")
    if subprocess.run(as_nobody_prefix() + ["true"]).returncode != 0:
        raise Skip("setpriv cannot switch to nobody/nogroup here")
    return ids


def as_nobody_prefix():
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def as_nobody(*cmd):
    """Run a command as nobody (to plant files another user owns)."""
    nobody()
    subprocess.run(as_nobody_prefix() + list(cmd), check=True)


def newdir(name, mode=0o700):
    path = os.path.join(TMP, name)
    os.mkdir(path)
    os.chmod(path, mode)
    return path


def victim(name):
    """A file of another user (nobody when root), mode 0600, that a
    followed symbolic link would overwrite."""
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(VICTIM)
    os.chmod(path, 0o600)
    if is_root():
        os.chown(path, *nobody())
    return path, os.lstat(path)


def check_victim(path, before):
    st = os.lstat(path)
    check(stat.S_ISREG(st.st_mode) and st.st_ino == before.st_ino,
          "%s was replaced" % path)
    with open(path, "rb") as f:
        check(f.read() == VICTIM, "%s was written (through a planted link?)" % path)
    check((st.st_uid, st.st_mode, st.st_size) ==
          (before.st_uid, before.st_mode, before.st_size),
          "%s changed: %r" % (path, st))


def check_link(path, target):
    check(os.path.islink(path) and os.readlink(path) == target,
          "the link planted at %s was moved or replaced" % os.path.basename(path))


def listing(d):
    return sorted(os.listdir(d))


def check_no_temp(d):
    left = [n for n in os.listdir(d) if n.startswith(".")]
    check(not left, "temporary files left in %s: %r" % (d, left))


def check_files(d, want, mode=MODE, uid=None):
    """Exactly the regular files of want (name -> bytes) and the names
    of also; each with its content, the mode and the owner."""
    got = {n for n in os.listdir(d)
           if stat.S_ISREG(os.lstat(os.path.join(d, n)).st_mode)}
    check(got == set(want), "files %r, expected %r" % (sorted(got), sorted(want)))
    for n, data in want.items():
        p = os.path.join(d, n)
        st = os.lstat(p)
        with open(p, "rb") as f:
            check(f.read() == data, "%s: content differs from the message" % n)
        check(stat.S_IMODE(st.st_mode) == mode,
              "%s: mode %o, expected %o" % (n, stat.S_IMODE(st.st_mode), mode))
        if uid is not None:
            check(st.st_uid == uid, "%s: owner %d, expected %d" % (n, st.st_uid, uid))


# ---- captures ----

def message(size, tag):
    """A message of exactly size bytes, with lines a client dot-stuffs."""
    out = b"Subject: %s\r\n\r\n.a line that starts with a dot\r\n" % tag
    line = b"..%s " % tag + b"y" * 60 + b"\r\n"
    while len(out) + len(line) <= size - 3:
        out += line
    return out + b"z" * (size - len(out) - 2) + b"\r\n"


def stuffed(body):
    """RFC 5321 4.5.2: a line starting with '.' gets one more."""
    return b"".join(b"." + ln if ln.startswith(b".") else ln
                    for ln in body.splitlines(keepends=True))


@functools.lru_cache(maxsize=None)
def smtp_capture(sizes):
    """One session sending a message of each size; its path."""
    pcap = craft.Pcap()
    c = craft.Conn(pcap)
    c.handshake()
    c.server(b"220 mx.example.test ESMTP\r\n")
    c.client(b"EHLO client.test\r\n")
    c.server(b"250 mx.example.test\r\n")
    for i, size in enumerate(sizes):
        c.client(b"MAIL FROM:<a@client.test>\r\n")
        c.server(b"250 2.1.0 Ok\r\n")
        c.client(b"RCPT TO:<b@example.test>\r\n")
        c.server(b"250 2.1.5 Ok\r\n")
        c.client(b"DATA\r\n")
        c.server(b"354 End data with <CR><LF>.<CR><LF>\r\n")
        c.client(stuffed(message(size, b"m%d" % i)) + b".\r\n")
        c.server(b"250 2.0.0 Ok: queued as Q%d\r\n" % i)
    c.client(b"QUIT\r\n")
    c.server(b"221 2.0.0 Bye\r\n")
    c.close()
    path = os.path.join(TMP, "msgs-%s.pcap" % "-".join(map(str, sizes)))
    pcap.write(path)
    return path


@functools.lru_cache(maxsize=None)
def plain(pcap):
    """stdout of a run without extraction."""
    return run_ok(["-r", pcap]).out


def transactions(pcap):
    return [e for e in parse(plain(pcap)) if e["event_type"] == "smtp_transaction"]


def eml_names(pcap):
    return ["%d-%d.eml" % (t["flow_id"], t["smtp"]["transaction"])
            for t in transactions(pcap)]


def expected(sizes):
    """The crafted capture and its files: name -> the message, unstuffed."""
    pcap = smtp_capture(sizes)
    return pcap, {n: message(s, b"m%d" % i)
                  for i, (n, s) in enumerate(zip(eml_names(pcap), sizes))}


MIME = str(ROOT / "pcaps" / "mime-attachments.pcap")


def mime_names():
    """mime-attachments.pcap: its message name, old temporary names (the
    message and every part) and attachment hash names."""
    t = transactions(MIME)[0]
    stem = "%d-%d" % (t["flow_id"], t["smtp"]["transaction"])
    old = [".%s.eml.tmp" % stem] + [".%s-part%d.tmp" % (stem, k)
                                    for k in range(len(t["email"]["parts"]))]
    hashes = [a["file"]["hash"]["sha256"] for a in t["email"]["attachments"]]
    return stem + ".eml", old, hashes


THREE = (3000, 5000, 2000)
EXISTS_RE = r"smtpscope: warning: extract: %s/%s exists: not replaced \(such files are counted in stats\.extract_existing\)"


# ---- 1. what is written ----

@case("content")
def _():
    pcap, want = expected(THREE)
    d = newdir("content")
    r = run_ok(["-r", pcap, "--extract", d])
    # byte for byte what the client sent, dot-unstuffed
    check_files(d, want)
    check_no_temp(d)
    expect_stats(r, extracted_files=3, extract_errors=0, extract_bytes=sum(THREE),
                 extract_skipped=0, extract_existing=0)
    check(without_stats(r.out) == without_stats(plain(pcap)),
          "extraction changed the events")


@case("mode-0640-whatever-the-umask")
def _():
    d = newdir("umask")
    r = run_ok(["-r", MIME, "--extract", d, "--extract-attachments"], umask=0)
    eml, _, hashes = mime_names()
    check(listing(d) == sorted([eml] + hashes), "files %r" % listing(d))
    for n in listing(d):
        m = stat.S_IMODE(os.lstat(os.path.join(d, n)).st_mode)
        check(m == MODE, "%s: mode %o with umask 000, expected %o" % (n, m, MODE))
    expect_stats(r, extracted_files=3, extract_existing=0)


# ---- 2. names planted in the directory ----

@case("symlink-at-old-temp-names")
def _():
    pcap, want = expected(THREE)
    d = newdir("symlink-tmp", 0o755)
    v, before = victim("victim-tmp")
    names = list(want)
    for n in names:
        os.symlink(v, os.path.join(d, ".%s.tmp" % n))
    r = run_ok(["-r", pcap, "--extract", d])
    check_victim(v, before)
    check_files(d, want)
    for n in names:
        check_link(os.path.join(d, ".%s.tmp" % n), v)
    expect_stats(r, extracted_files=3, extract_bytes=sum(THREE), extract_existing=0)
    # the parts' temporary names too
    d2 = newdir("symlink-tmp-parts", 0o755)
    eml, old, hashes = mime_names()
    for n in old:
        os.symlink(v, os.path.join(d2, n))
    r = run_ok(["-r", MIME, "--extract", d2, "--extract-attachments"])
    check_victim(v, before)
    check(sorted(n for n in listing(d2) if not n.startswith(".")) ==
          sorted([eml] + hashes), "files %r" % listing(d2))
    for n in old:
        check_link(os.path.join(d2, n), v)
    expect_stats(r, extracted_files=3, extract_existing=0)


@case("symlink-at-final-names")
def _():
    d = newdir("symlink-final", 0o755)
    v, before = victim("victim-final")
    eml, _, hashes = mime_names()
    # the message's name points to where a followed link would create a file
    absent = os.path.join(TMP, "created-through-a-link")
    os.symlink(absent, os.path.join(d, eml))
    for h in hashes:
        os.symlink(v, os.path.join(d, h))
    r = run_ok(["-r", MIME, "--extract", d, "--extract-attachments"], quiet=False)
    check_victim(v, before)
    check(not os.path.lexists(absent), "a file was created through the planted link")
    check_link(os.path.join(d, eml), absent)
    for h in hashes:
        check_link(os.path.join(d, h), v)
    check_no_temp(d)
    expect_stats(r, extracted_files=0, extract_errors=0, extract_bytes=0,
                 extract_existing=3)
    # said once, whatever the number of names taken
    check(len(r.err_lines) == 1 and re.fullmatch(
        EXISTS_RE % (re.escape(d), "[0-9a-f-.eml]+"), r.err_lines[0]),
        "stderr %r" % r.err)


@case("fifo-at-old-temp-names")
def _():
    pcap, want = expected(THREE)
    d = newdir("fifo-tmp", 0o755)
    for n in want:
        os.mkfifo(os.path.join(d, ".%s.tmp" % n))
    r = run_ok(["-r", pcap, "--extract", d], timeout=FIFO_TIMEOUT)
    check_files(d, want)
    check(all(stat.S_ISFIFO(os.lstat(os.path.join(d, ".%s.tmp" % n)).st_mode)
              for n in want), "a planted FIFO was replaced")
    expect_stats(r, extracted_files=3, extract_existing=0)


@case("fifo-at-final-names")
def _():
    pcap, want = expected(THREE)
    d = newdir("fifo-final", 0o755)
    for n in want:
        os.mkfifo(os.path.join(d, n))
    r = run(["-r", pcap, "--extract", d], timeout=FIFO_TIMEOUT)
    check(r.rc == 0, r.brief())
    check(all(stat.S_ISFIFO(os.lstat(os.path.join(d, n)).st_mode) for n in want),
          "a FIFO at a final name was replaced")
    check_no_temp(d)
    expect_stats(r, extracted_files=0, extract_errors=0, extract_existing=3)
    check(len(r.err_lines) == 1, "stderr %r: expected one warning" % r.err)


@case("existing-message-not-replaced")
def _():
    pcap, want = expected(THREE)
    d = newdir("existing", 0o755)
    names = list(want)
    before = {}
    for n in names[:2]:   # two taken, the third free
        p, _ = victim(os.path.join("existing", n))
        before[n] = os.lstat(p)
    r = run(["-r", pcap, "--extract", d])
    check(r.rc == 0, r.brief())
    for n in names[:2]:
        check_victim(os.path.join(d, n), before[n])
    with open(os.path.join(d, names[2]), "rb") as f:
        check(f.read() == want[names[2]], "the free name was not written")
    check_no_temp(d)
    expect_stats(r, extracted_files=1, extract_errors=0, extract_bytes=THREE[2],
                 extract_existing=2)
    check(len(r.err_lines) == 1 and
          re.fullmatch(EXISTS_RE % (re.escape(d), re.escape(names[0])), r.err_lines[0]),
          "stderr %r: expected one warning naming %s" % (r.err, names[0]))


@case("directory-at-final-name")
def _():
    pcap, want = expected(THREE)
    d = newdir("dir-final", 0o755)
    names = list(want)
    os.mkdir(os.path.join(d, names[1]))
    with open(os.path.join(d, names[1], "inside"), "wb") as f:
        f.write(b"x")
    r = run(["-r", pcap, "--extract", d])
    check(r.rc == 0, r.brief())
    check(os.listdir(os.path.join(d, names[1])) == ["inside"],
          "the directory at %s was changed" % names[1])
    check_files(d, {names[0]: want[names[0]], names[2]: want[names[2]]})
    check_no_temp(d)
    expect_stats(r, extracted_files=2, extract_errors=0,
                 extract_bytes=THREE[0] + THREE[2], extract_existing=1)
    check(len(r.err_lines) == 1, "stderr %r: expected one warning" % r.err)


@case("attachment-already-present")
def _():
    d = newdir("present", 0o755)
    run_ok(["-r", MIME, "--extract", d, "--extract-attachments"])
    eml, _, hashes = mime_names()
    before = {h: os.lstat(os.path.join(d, h)) for h in hashes}
    os.unlink(os.path.join(d, eml))
    # same traffic again: the attachments are there (same name, same
    # content) and stay as they are; quietly, the expected case
    r = run_ok(["-r", MIME, "--extract", d, "--extract-attachments"])
    for h in hashes:
        st = os.lstat(os.path.join(d, h))
        check((st.st_ino, st.st_mtime_ns) == (before[h].st_ino, before[h].st_mtime_ns),
              "%s was written again" % h)
    check(listing(d) == sorted([eml] + hashes), "files %r" % listing(d))
    expect_stats(r, extracted_files=1, extract_existing=2, extract_errors=0)


@case("sticky-dir-links-planted-by-another-user")
def _():
    uid, gid = nobody()
    pcap, want = expected(THREE)
    d = newdir("sticky", 0o1777)
    v = os.path.join(TMP, "root-victim")
    with open(v, "wb") as f:
        f.write(VICTIM)
    os.chmod(v, 0o600)
    before = os.lstat(v)
    names = list(want)
    # nobody plants a link at the message's old temporary name and its
    # final name, to a file only root may write
    as_nobody("ln", "-s", v, os.path.join(d, ".%s.tmp" % names[0]))
    as_nobody("ln", "-s", v, os.path.join(d, names[0]))
    r = run(["-r", pcap, "--extract", d])
    check(r.rc == 0, r.brief())
    check_victim(v, before)
    check_link(os.path.join(d, names[0]), v)
    check_files(d, {n: want[n] for n in names[1:]}, uid=0)
    expect_stats(r, extracted_files=2, extract_existing=1, extract_errors=0)


# ---- 3. the directory itself ----

@case("world-writable-dir-refused")
def _():
    pcap, want = expected(THREE)
    d = newdir("world", 0o777)
    expect_error(run(["-r", pcap, "--extract", d]), 1,
                 r"smtpscope: --extract %s: writable by every user and not sticky "
                 r"\(chmod o-w or \+t\)" % re.escape(d))
    check(os.listdir(d) == [], "files written: %r" % os.listdir(d))
    # with the sticky bit (as /tmp) others cannot rename ours: accepted
    os.chmod(d, 0o1777)
    run_ok(["-r", pcap, "--extract", d])
    check_files(d, want)


@case("read-only-dir")
def _():
    uid, gid = nobody()
    pcap, want = expected(THREE)
    d = newdir("read-only", 0o755)   # root's: nobody cannot create files
    # started as nobody: refused at start
    expect_error(run(["-r", pcap, "--extract", d], prefix=as_nobody_prefix()), 1,
                 r"smtpscope: --extract %s: Permission denied" % re.escape(d))
    # started as root, then -Z nobody: every file fails, the run goes on
    r = run(["-r", pcap, "--extract", d, "-Z", "nobody"])
    check(r.rc == 0, r.brief())
    check(os.listdir(d) == [], "files written: %r" % os.listdir(d))
    check(without_stats(r.out) == without_stats(plain(pcap)), "events differ")
    expect_stats(r, extracted_files=0, extract_errors=3, extract_bytes=0)
    # one line, not one per message
    check(len(r.err_lines) == 1 and re.fullmatch(
        r"smtpscope: extract: cannot create %s/\.[0-9]+-1\.eml\.[0-9a-f]{16}\.tmp: "
        r"Permission denied \(such failures are counted in stats\.extract_errors\)"
        % re.escape(d), r.err_lines[0]), "stderr %r" % r.err)


@case("as-Z-nobody")
def _():
    uid, gid = nobody()
    pcap, want = expected(THREE)
    d = newdir("as-nobody")
    os.chown(d, uid, gid)
    r = run_ok(["-r", pcap, "--extract", d, "-Z", "nobody"], umask=0)
    check_files(d, want, uid=uid)
    check(all(os.lstat(os.path.join(d, n)).st_gid == gid for n in want), "group")
    expect_stats(r, extracted_files=3, extract_errors=0)


# ---- 4. disk space ----

@case("full-disk")
def _():
    need_root()
    if not shutil.which("mount"):
        raise Skip("no mount")
    sizes = (40000, 40000, 10000)
    pcap, want = expected(sizes)
    d = newdir("tmpfs")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700",
                        "smtpscope-test", d], stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise Skip("cannot mount a tmpfs: %s" % p.stderr.decode().strip())
    try:
        r = run(["-r", pcap, "--extract", d])
        check(r.rc == 0, r.brief())
        names = list(want)
        # the second does not fit, the third does once it is gone
        check_files(d, {names[0]: want[names[0]], names[2]: want[names[2]]})
        check_no_temp(d)
        expect_stats(r, extracted_files=2, extract_errors=1,
                     extract_bytes=sizes[0] + sizes[2], extract_skipped=0)
        check(len(r.err_lines) == 1 and re.fullmatch(
            r"smtpscope: extract: cannot write %s/\.%s\.[0-9a-f]{16}\.tmp: "
            r"No space left on device \(such failures are counted in "
            r"stats\.extract_errors\)" % (re.escape(d), re.escape(names[1])),
            r.err_lines[0]), "stderr %r" % r.err)
        check(without_stats(r.out) == without_stats(plain(pcap)), "events differ")
    finally:
        subprocess.run(["umount", d])


def budget_run(name, budget, *extra):
    pcap, want = expected(THREE)
    d = newdir(name)
    return pcap, want, d, run(["-r", pcap, "--extract", d] + list(budget) + list(extra))


BUDGET_RE = (r"smtpscope: warning: extract: --extract-max-bytes %d reached: %s/%s "
             r"and any other file that would go over it are not written "
             r"\(counted in stats\.extract_skipped\)")


@case("budget")
def _():
    # 6K: the first fits, the second would cross it, the third fits
    pcap, want, d, r = budget_run("budget-6k", ["--extract-max-bytes", "6K"])
    names = list(want)
    check(r.rc == 0, r.brief())
    check_files(d, {names[0]: want[names[0]], names[2]: want[names[2]]})
    check_no_temp(d)
    expect_stats(r, extracted_files=2, extract_errors=0, extract_bytes=5000,
                 extract_skipped=1, extract_existing=0)
    check(len(r.err_lines) == 1 and re.fullmatch(
        BUDGET_RE % (6144, re.escape(d), re.escape(names[1])), r.err_lines[0]),
        "stderr %r" % r.err)
    # exactly the budget fits; a byte less drops the last
    _, _, d, r = budget_run("budget-exact", ["--extract-max-bytes", "10000"])
    check(r.rc == 0 and r.err == "", r.brief())
    check(listing(d) == sorted(names), "files %r" % listing(d))
    expect_stats(r, extracted_files=3, extract_bytes=10000, extract_skipped=0)
    _, _, d, r = budget_run("budget-less", ["--extract-max-bytes", "9999"])
    check(listing(d) == sorted(names[:2]), "files %r" % listing(d))
    expect_stats(r, extracted_files=2, extract_bytes=8000, extract_skipped=1)
    check(len(r.err_lines) == 1, "stderr %r" % r.err)
    # 0: no limit
    _, _, d, r = budget_run("budget-0", ["--extract-max-bytes", "0"])
    check(r.rc == 0 and r.err == "", r.brief())
    expect_stats(r, extracted_files=3, extract_bytes=10000, extract_skipped=0)
    # from a -C file, by its long name
    conf = os.path.join(TMP, "budget.conf")
    with open(conf, "w") as f:
        f.write("# smtpscope\nextract-max-bytes 6k\n")
    _, _, d, r = budget_run("budget-conf", ["-C", conf])
    check(listing(d) == sorted([names[0], names[2]]), "files %r" % listing(d))
    expect_stats(r, extracted_files=2, extract_bytes=5000, extract_skipped=1)


@case("budget-with-attachments")
def _():
    # files written at once (the message and its attachments) share the
    # budget: whatever is dropped, what is on disk stays within it
    eml, _, hashes = mime_names()
    for budget in (300, 1000, 4000, 6000, 9000, 9247):
        d = newdir("budget-mime-%d" % budget)
        r = run(["-r", MIME, "--extract", d, "--extract-attachments",
                 "--extract-max-bytes", budget])
        check(r.rc == 0, r.brief())
        check_no_temp(d)
        files = listing(d)
        size = sum(os.lstat(os.path.join(d, n)).st_size for n in files)
        check(size <= budget, "%d bytes written with a budget of %d" % (size, budget))
        st = stats_of(r)
        check((st["extracted_files"], st["extract_bytes"]) == (len(files), size) and
              st["extract_skipped"] + len(files) == 3 and st["extract_errors"] == 0,
              "budget %d: files %r, stats %r" % (budget, files, st))
        check(len(r.err_lines) == (1 if st["extract_skipped"] else 0), "stderr %r" % r.err)
    check(files == sorted([eml] + hashes), "the whole budget: files %r" % files)


@case("budget-usage-errors")
def _():
    d = newdir("budget-usage")
    for bad in ("12X", "-1", " 1", "1 ", "1KB", "K", "", "0x10", "18446744073709551615K",
                "18446744073709551616"):
        expect_error(run(["-r", MIME, "--extract", d, "--extract-max-bytes", bad]), 2,
                     r"smtpscope: --extract-max-bytes: invalid size '%s'" % re.escape(bad))
    expect_error(run(["-r", MIME, "--extract-max-bytes", "1M"]), 2,
                 r"smtpscope: --extract-max-bytes needs --extract DIR")
    check(os.listdir(d) == [], "files written: %r" % os.listdir(d))
    r = run_ok(["--help"])
    check(b"--extract-max-bytes SIZE" in r.out, "--help does not list --extract-max-bytes")


# ---- main ----


def unmount(tmp):
    """A case that broke off may leave its tmpfs mounted."""
    if os.path.ismount(os.path.join(tmp, "tmpfs")):
        subprocess.run(["umount", os.path.join(tmp, "tmpfs")])


def main():
    global BIN, TMP
    BIN, TMP = SUITE.start()
    if not BIN:
        return 1
    os.chmod(TMP, 0o755)   # the setpriv cases run as nobody
    return SUITE.run(cleanup=unmount)


if __name__ == "__main__":
    sys.exit(main())
