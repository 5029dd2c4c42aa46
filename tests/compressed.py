#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Compressed captures: gzip, zstd and lz4, read from files and from pipes."""

# usage: tests/compressed.py [SMTPSCOPE]   (default build/smtpscope-san, the
# ASan/UBSan build). Prints one line per case, "PASS compressed/<name>",
# "FAIL compressed/<name>: <why>" or "SKIP compressed/<name>: <why>", and
# exits 1 if any case failed. gzip files are made with Python's gzip module;
# zstd and lz4 files with the zstd and lz4 commands (their cases say SKIP
# without them). A compressed capture must give byte for byte the output of
# the same capture uncompressed, as a file and through a pipe (and once per
# compression through a redirected standard input), whole or compressed in
# parts; a cut or damaged one exits 1 with one stderr line, after writing the
# output of the packets before the damage. Every run has
# ASAN_OPTIONS=detect_leaks=1; a sanitizer report on stderr is a failure.

import functools
import gzip
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True   # leave no __pycache__ in tests/
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import SANITIZER_RE, Fail, Result, Skip, Suite, check  # noqa: E402
sys.path.insert(0, str(ROOT / "tests"))
import pcaptool as pt  # noqa: E402

RUN_TIMEOUT = 60
# bundled captures, each read compressed three ways
CAPTURES = ["helo-plain", "mime-attachments", "ipv6"]
# the Zeek traces upstream ships gzip-compressed (tests/conformance.py)
CORPUS = "../shared/corpus/zeek"
OPTS = ["--commands"]   # more events to compare

BIN = None   # absolute path of the binary under test
TMP = None   # temporary directory of this run
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")


SUITE = Suite("compressed")
case = SUITE.case


# ---- running the binary ----

def run(args, stdin=None, data=None):
    """Run the binary on args; data goes to its standard input, a pipe."""
    cmd = [BIN] + [str(a) for a in args]
    try:
        p = subprocess.run(cmd, cwd=ROOT, env=ENV, stdin=stdin, input=data,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Fail("timed out after %d s: %s" % (RUN_TIMEOUT, " ".join(map(str, args))))
    err = p.stderr.decode("utf-8", "replace")
    m = SANITIZER_RE.search(err)
    if m:
        line = next((x for x in err.splitlines() if SANITIZER_RE.search(x)), m.group(0))
        raise Fail("sanitizer report: %s" % line.strip()[:300])
    check(p.returncode >= 0, "killed by signal %d; stderr %r" % (-p.returncode, err[:300]))
    return Result(p.returncode, p.stdout, err)


def run_ok(args, **kw):
    r = run(args, **kw)
    check(r.rc == 0 and r.err == "", "%s: %s" % (" ".join(map(str, args)), r.brief()))
    return r


def write(name, data):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def same_output(path, data, expected, label, redirect=False):
    """The run on path and on data through a pipe (and, with redirect, on
    path as standard input), each with the output expected, no stderr."""
    r = run_ok(["-r", path] + OPTS)
    check(r.out == expected, "%s: file: output differs from the uncompressed run's" % label)
    r = run_ok(["-r", "-"] + OPTS, data=data)
    check(r.out == expected, "%s: pipe: output differs from the uncompressed run's" % label)
    if redirect:
        with open(path, "rb") as f:
            r = run_ok(["-r", "-"] + OPTS, stdin=f)
        check(r.out == expected, "%s: stdin file: output differs from the uncompressed run's"
              % label)


# ---- compressors ----

def gz(data):
    return gzip.compress(data, mtime=0)


def tool(name, *args):
    """A compressor command as a function of bytes, or Skip without it."""
    if not shutil.which(name):
        raise Skip("%s is not installed (sh tools/deps.sh as root)" % name)

    def compress(data):
        p = subprocess.run([name, "-q", "-c"] + list(args), input=data,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        check(p.returncode == 0, "%s failed: %r" % (name, p.stderr[:200]))
        return p.stdout
    return compress


COMPRESSORS = {
    "gzip": lambda: gz,
    "zstd": lambda: tool("zstd"),
    # 64 KiB blocks, linked: a stream of several blocks that refer back
    "lz4": lambda: tool("lz4", "-B4", "-BD"),
}
SUFFIX = {"gzip": "gz", "zstd": "zst", "lz4": "lz4"}


# ---- captures ----

def pcap_path(name):
    return ROOT / "pcaps" / ("%s.pcap" % name)


def pcapng_of(path):
    cap = pt.read_pcap(str(path))
    return pt.pcapng_bytes(cap.linktype, cap.packets)


@functools.lru_cache(maxsize=None)
def many_sessions(copies=60):
    """two-messages over and over, one client port and one second apart
    each: some 220 KB, more than one buffer of decompressed bytes."""
    cap = pt.read_pcap(str(pcap_path("two-messages")))
    client = [p for p in pt.ports(cap.packets[0].data) if p != 25][0]
    packets = []
    for i in range(copies):
        for p in cap.packets:
            data = pt.rewrite_port(p.data, client, 40000 + i)
            packets.append(pt.Packet(p.ts_us + i * 1000000, p.wirelen, data))
    return pt.pcap_bytes(cap.linktype, packets)


def records(raw):
    """The end offsets of the records of a little-endian classic pcap."""
    ends, off = [], 24
    while off + 16 <= len(raw):
        caplen = struct.unpack("<I", raw[off + 8:off + 12])[0]
        if off + 16 + caplen > len(raw):
            break
        off += 16 + caplen
        ends.append(off)
    return ends


PLAIN = {}   # uncompressed capture -> its output


def plain_output(raw, label):
    """Output of the uncompressed capture raw, which must succeed."""
    if raw not in PLAIN:
        PLAIN[raw] = run_ok(["-r", write(label, raw)] + OPTS).out
    return PLAIN[raw]


# ---- 1. the same events, compressed or not ----

def same_case(kind, label, raw_fn):
    @case("%s/%s" % (kind, label))
    def t():
        compress = COMPRESSORS[kind]()
        raw = raw_fn()
        expected = plain_output(raw, label + ".plain")
        data = compress(raw)
        path = write("%s.%s" % (label, SUFFIX[kind]), data)
        # a redirected standard input is seekable: once per compression
        same_output(path, data, expected, label, redirect=label == "two-messages.pcapng")


for _kind in COMPRESSORS:
    for _name in CAPTURES:
        same_case(_kind, _name, lambda n=_name: pcap_path(n).read_bytes())
    same_case(_kind, "two-messages.pcapng", lambda: pcapng_of(pcap_path("two-messages")))
    same_case(_kind, "many-sessions", many_sessions)
    same_case(_kind, "many-sessions.pcapng",
              lambda: pcapng_of(write("many.pcap", many_sessions())))


def split_points(raw):
    """Cuts inside the file header, at a record's start, inside a record,
    and near the end."""
    ends = records(raw)
    return [1, 10, 24, ends[2], ends[5] + 7, len(raw) - 3]


def members_case(kind, label, raw_fn):
    @case("%s/%s-in-parts" % (kind, label))
    def t():
        compress = COMPRESSORS[kind]()
        raw = raw_fn()
        expected = plain_output(raw, label + ".plain")
        cuts = [0] + split_points(raw) + [len(raw)]
        parts = [compress(raw[a:b]) for a, b in zip(cuts, cuts[1:])]
        # an empty member or frame in the middle changes nothing
        data = b"".join(parts[:3] + [compress(b"")] + parts[3:])
        path = write("%s-parts.%s" % (label, SUFFIX[kind]), data)
        same_output(path, data, expected, "%d parts" % (len(parts) + 1))


for _kind in COMPRESSORS:
    members_case(_kind, "two-messages", lambda: pcap_path("two-messages").read_bytes())
    members_case(_kind, "many-sessions", many_sessions)


@case("gzip/many-sessions-small-members")
def _():
    # a member every 999 bytes: member ends in every position of a buffer
    raw = many_sessions()
    expected = plain_output(raw, "small-members.plain")
    data = b"".join(gz(raw[i:i + 999]) for i in range(0, len(raw), 999))
    same_output(write("small-members.gz", data), data, expected, "members of 999 bytes")


@case("magic-not-name")
def _():
    raw = pcap_path("helo-plain").read_bytes()
    expected = plain_output(raw, "helo.plain")
    # compressed under a plain name, plain under compressed names
    for name, data in (("gz-named.pcap", gz(raw)), ("plain.pcap.gz", raw),
                       ("plain.pcap.zst", raw), ("plain.pcap.lz4", raw)):
        r = run_ok(["-r", write(name, data)] + OPTS)
        check(r.out == expected, "%s: output differs from the uncompressed run's" % name)


@case("gzip/count")
def _():
    raw = pcap_path("two-messages").read_bytes()
    expected = run_ok(["-r", write("count.pcap", raw), "-c", "7"] + OPTS).out
    r = run_ok(["-r", write("count.pcap.gz", gz(raw)), "-c", "7"] + OPTS)
    check(r.out == expected, "-c 7: output differs from the uncompressed run's")


@case("gzip/zeek-corpus")
def _():
    env = os.environ.get("SMTPSCOPE_CORPUS")
    corpus = Path(env) if env else ROOT / CORPUS
    traces = sorted(corpus.glob("*.pcap.gz")) if corpus.is_dir() else []
    if not traces:
        raise Skip("no .pcap.gz trace in %s" % (env or CORPUS))
    for trace in traces:
        raw = gzip.decompress(trace.read_bytes())
        expected = plain_output(raw, trace.stem)
        r = run_ok(["-r", str(trace)] + OPTS)
        check(r.out == expected, "%s: output differs from the uncompressed run's" % trace.name)


# ---- 2. cut and damaged streams ----

def expect_open_error(r, pattern):
    """Exit 1, no output, one stderr line matching pattern."""
    check(r.rc == 1, "expected exit 1, got %s" % r.brief())
    check(r.out == b"", "expected no stdout, got %r" % r.out[:200])
    check(len(r.err_lines) == 1, "expected one stderr line, got %r" % r.err[:300])
    check(re.fullmatch(pattern, r.err_lines[0]) is not None,
          "stderr %r does not match %r" % (r.err_lines[0], pattern))


def expect_cut(r, name, raw, why, packets=None):
    """Exit 1, one line 'capture file truncated after packet K' (or a read
    error), and the output of the uncompressed capture's first K packets.
    Returns K."""
    check(r.rc == 1, "expected exit 1, got %s" % r.brief())
    check(len(r.err_lines) == 1, "expected one stderr line, got %r" % r.err[:300])
    m = re.fullmatch(r"smtpscope: %s: (?:capture file truncated|read error) after packet "
                     r"(\d+): %s" % (re.escape(name), why), r.err_lines[0])
    check(m is not None, "stderr %r does not match %r" % (r.err_lines[0], why))
    k = int(m.group(1))
    if packets is not None:
        check(k == packets, "after packet %d, expected %d" % (k, packets))
    ends = records(raw)
    check(k <= len(ends), "after packet %d of %d" % (k, len(ends)))
    prefix = raw[:ends[k - 1]] if k else raw[:24]
    expected = plain_output(prefix, "prefix-%d.pcap" % k)
    check(r.out == expected, "the output differs from that of the first %d packets" % k)
    return k


def decodable(data):
    """How many bytes zlib gets out of a cut gzip stream: what the reader
    has before the cut."""
    return len(zlib.decompressobj(31).decompress(data))


@case("gzip/truncated")
def _():
    raw = many_sessions()
    data = gz(raw)
    ends = records(raw)
    # in the deflate data, then in the 8-byte trailer (all packets out)
    for cut in (len(data) // 5, len(data) // 2, len(data) * 9 // 10,
                len(data) - 6, len(data) - 1):
        part = data[:cut]
        path = write("cut-%d.pcap.gz" % cut, part)
        complete = len([e for e in ends if e <= decodable(part)])
        expect_cut(run(["-r", path] + OPTS), path, raw,
                   "the gzip stream is truncated", complete)
        if cut == len(data) // 2:
            expect_cut(run(["-r", "-"] + OPTS, data=part), "-", raw,
                       "the gzip stream is truncated", complete)
    check(complete == len(ends), "a cut in the trailer lost packets")


@case("gzip/truncated-member")
def _():
    # the second of three members cut: the first one's packets are out
    raw = many_sessions()
    third = records(raw)[len(records(raw)) // 3]
    first, second = gz(raw[:third]), gz(raw[third:])
    path = write("cut-member.gz", first + second[:len(second) // 2])
    k = expect_cut(run(["-r", path] + OPTS), path, raw,
                   "the gzip stream is truncated")
    check(k >= len(records(raw[:third])), "after packet %d: the first member was not read" % k)


@case("gzip/truncated-header")
def _():
    raw = pcap_path("helo-plain").read_bytes()
    data = gz(raw)
    for cut in (2, 5, 12):
        path = write("cut-header-%d.gz" % cut, data[:cut])
        expect_open_error(run(["-r", path]),
                          r"smtpscope: %s: the gzip stream is truncated" % re.escape(path))


def cut_case(kind):
    @case("%s/truncated" % kind)
    def t():
        compress = COMPRESSORS[kind]()
        raw = many_sessions()
        data = compress(raw)
        cut = len(data) * 3 // 4
        path = write("cut.%s" % SUFFIX[kind], data[:cut])
        k = expect_cut(run(["-r", path] + OPTS), path, raw,
                       "the %s stream is truncated" % kind)
        check(k < len(records(raw)), "all packets out of a cut stream")
        expect_cut(run(["-r", "-"] + OPTS, data=data[:cut]), "-", raw,
                   "the %s stream is truncated" % kind, k)


for _kind in ("zstd", "lz4"):
    cut_case(_kind)


@case("garbage-after-magic")
def _():
    junk = b"this is not compressed data" * 4
    for kind, magic in (("gzip", b"\x1f\x8b"), ("zstd", b"\x28\xb5\x2f\xfd"),
                        ("lz4", b"\x04\x22\x4d\x18")):
        path = write("garbage.%s" % SUFFIX[kind], magic + junk)
        pattern = r"smtpscope: %s: corrupt %s stream: .+" % (re.escape(path), kind)
        expect_open_error(run(["-r", path]), pattern)
        expect_open_error(run(["-r", "-"], data=magic + junk),
                          r"smtpscope: -: corrupt %s stream: .+" % kind)


@case("gzip/garbage-after-member")
def _():
    raw = pcap_path("two-messages").read_bytes()
    path = write("trailing.gz", gz(raw) + b"trailing garbage\n")
    expect_cut(run(["-r", path] + OPTS), path, raw,
               "corrupt gzip stream: incorrect header check", len(records(raw)))


@case("gzip/bad-checksum")
def _():
    raw = pcap_path("two-messages").read_bytes()
    data = bytearray(gz(raw))
    data[-6] ^= 1   # the CRC-32 of the trailer: the data came out, then the error
    path = write("bad-crc.gz", bytes(data))
    expect_cut(run(["-r", path] + OPTS), path, raw,
               "corrupt gzip stream: incorrect data check", len(records(raw)))


@case("gzip/damaged-data")
def _():
    # bytes flipped in the deflate data: exit 1 with one error line
    raw = many_sessions()
    data = gz(raw)
    for at in (len(data) // 3, len(data) // 2):
        bad = bytearray(data)
        for i in range(at, at + 16):
            bad[i] ^= 0x5A
        path = write("damaged-%d.gz" % at, bytes(bad))
        r = run(["-r", path] + OPTS)
        check(r.rc == 1, "flipped at %d: expected exit 1, got %s" % (at, r.brief()))
        # what decompressed before the damage may draw warnings
        errors = [x for x in r.err_lines if not x.startswith("smtpscope: warning: ")]
        check(len(errors) == 1, "flipped at %d: expected one error line, got %r"
              % (at, r.err[:300]))
        check(re.fullmatch(r"smtpscope: %s: (capture file truncated|read error) after "
                           r"packet \d+: .+" % re.escape(path), errors[0]),
              "flipped at %d: stderr %r" % (at, errors[0]))


@case("gzip/not-a-capture")
def _():
    path = write("text.gz", gz(b"hello, this is text\n" * 10))
    expect_open_error(run(["-r", path]), r"smtpscope: %s: compressed, but not a pcap or "
                      r"pcapng capture file" % re.escape(path))
    path = write("empty.gz", gz(b""))
    expect_open_error(run(["-r", path]), r"smtpscope: %s: truncated capture file "
                      r"\(incomplete header\)" % re.escape(path))


# ---- 3. streamed, not read whole ----

def max_rss_kb(args):
    """Peak resident memory of one run (which must succeed), in KiB."""
    p = subprocess.Popen([BIN] + [str(a) for a in args], cwd=ROOT, env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read().decode("utf-8", "replace")
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    check(p.returncode == 0, "%s: exit %d, stderr %r" % (args, p.returncode, err[:300]))
    return ru.ru_maxrss


@case("gzip/memory-bounded")
def _():
    # 1,500-byte UDP packets (no SMTP, dropped by the filter): 1 MB and
    # 48 MB of them compress to little; reading the whole file would show
    # in the peak memory, decompressing as it is read does not
    frame = bytes(12) + b"\x08\x00" + struct.pack("!BBHHHBBH4s4sHHHH", 0x45, 0,
                                                  1486, 0, 0, 64, 17, 0, bytes(4),
                                                  bytes(4), 5353, 5353, 1466, 0)
    frame += bytes(1500 - len(frame))
    rss = []
    for n in (700, 32000):
        packets = [pt.Packet(1700000000000000 + i, len(frame), frame) for i in range(n)]
        path = write("udp-%d.pcap.gz" % n, gz(pt.pcap_bytes(pt.LINKTYPE_ETHERNET, packets)))
        rss.append(max_rss_kb(["-r", path]))
    check(rss[1] - rss[0] < 16 * 1024, "peak memory %d KiB for 1 MB, %d KiB for 48 MB"
          % (rss[0], rss[1]))


def main():
    global BIN, TMP
    BIN, TMP = SUITE.start()
    return SUITE.run() if BIN else 1


if __name__ == "__main__":
    sys.exit(main())
