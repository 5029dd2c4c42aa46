#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""fuzz-seeds.py - write the fuzz targets' seed corpora from the bundled captures.

usage: tools/fuzz-seeds.py [OUTDIR]   (default tests/fuzz)

From every capture of pcaps/ and pcaps/crafted/:
- capture/: the file itself; a few also as pcapng (other time stamp
  resolutions, an interface with an if_tsoffset, times out of range, two
  interfaces); one pcap and one pcapng also compressed (gzip in two
  members; zstd and lz4 frames of stored blocks, written here);
- smtp/: the TCP payloads in capture order as fuzz_smtp.c's records (one
  header byte: bit 7 server, bits 0-5 length; the first byte of the input
  picks the session options, 0 here);
- message/: each DATA body, dot-stuffing removed, and pcaps/mime-files/*.eml.

Each seed is named after its source; the output is the same on every run.
Python 3 standard library only.
"""

import gzip
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(ROOT / "tests"))
import pcaptool as pt  # noqa: E402

SMTP_PORTS = {25, 465, 587, 2525}
# converted to pcapng as well: small, and between them every link feature
PCAPNG_FROM = ["helo-plain", "ipv6", "crafted/lost-segment", "crafted/midstream"]
# also compressed, each way
COMPRESSED_FROM = ["helo-plain.pcap", "ipv6-ns.pcapng"]


def captures():
    for d in ("pcaps", "pcaps/crafted"):
        for p in sorted((ROOT / d).glob("*.pcap")):
            name = p.stem if d == "pcaps" else "crafted-" + p.stem
            yield name, p


def tcp_payload(frame):
    """(from the client, payload) of an Ethernet IPv4/IPv6 TCP frame, or None."""
    if len(frame) < 14:
        return None
    etype = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if etype == 0x0800 and len(ip) >= 20 and ip[9] == 6:
        total = struct.unpack("!H", ip[2:4])[0]
        ip = ip[:total]
        tcp = ip[(ip[0] & 15) * 4:]
    elif etype == 0x86DD and len(ip) >= 40 and ip[6] == 6:
        tcp = ip[40:40 + struct.unpack("!H", ip[4:6])[0]]
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport = struct.unpack("!HH", tcp[:4])
    if dport not in SMTP_PORTS and sport not in SMTP_PORTS:
        return None
    return dport in SMTP_PORTS, tcp[(tcp[12] >> 4) * 4:]


def smtp_records(cap):
    """fuzz_smtp.c's input for the payloads of a capture."""
    out = bytearray([0])
    for p in cap.packets:
        r = tcp_payload(p.data)
        if not r or not r[1]:
            continue
        client, data = r
        for i in range(0, len(data), 63):
            chunk = data[i:i + 63]
            out.append((0 if client else 0x80) | len(chunk))
            out += chunk
    return bytes(out)


def messages(cap):
    """The DATA bodies a client sent (after a 354), unstuffed."""
    client = b"".join(r[1] for r in map(tcp_payload, (p.data for p in cap.packets))
                      if r and r[0])
    server = b"".join(r[1] for r in map(tcp_payload, (p.data for p in cap.packets))
                      if r and not r[0])
    if b"\r\n354" not in b"\r\n" + server:
        return []
    out = []
    pos = 0
    while True:
        start = client.upper().find(b"DATA\r\n", pos)
        if start < 0:
            break
        start += 6
        end = client.find(b"\r\n.\r\n", start)
        body = client[start:end + 2 if end >= 0 else len(client)]
        lines = body.split(b"\r\n")
        out.append(b"\r\n".join(x[1:] if x.startswith(b".") else x for x in lines))
        if end < 0:
            break
        pos = end + 5
    return out


def pcapng_variants(name, cap):
    """The capture as pcapng: ns times; µs with a tsoffset; wild times;
    two interfaces."""
    if cap.linktype != pt.LINKTYPE_ETHERNET:
        return []
    out = [(name + "-ns.pcapng", pt.pcapng_bytes(cap.linktype, cap.packets, tsresol=9))]
    # interface 0 in seconds since 1700000000 (if_tsoffset), big-endian
    base = 1700000000
    shifted = [pt.Packet(p.ts_us - base * 1000000 if p.ts_us >= base * 1000000 else p.ts_us,
                         p.wirelen, p.data) for p in cap.packets]
    opts = struct.pack(">HHq", 14, 8, base) + struct.pack(">HH", 0, 0)
    shb = pt._block(0x0A0D0D0A, struct.pack(">IHHq", 0x1A2B3C4D, 1, 0, -1), ">")
    idb = pt._block(1, struct.pack(">HHI", cap.linktype, 0, 262144) + opts, ">")
    epbs = []
    for p in shifted:
        body = struct.pack(">IIIII", 0, p.ts_us >> 32, p.ts_us & 0xFFFFFFFF,
                           len(p.data), p.wirelen) + pt._pad4(p.data)
        epbs.append(pt._block(6, body, ">"))
    out.append((name + "-tsoffset-be.pcapng", shb + idb + b"".join(epbs)))
    # wild times: seconds at 10^0 with an offset of INT64_MAX on one
    # interface, 2^-63 s units on the other, little-endian
    shb = pt._block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1), "<")
    idbs = b""
    for resol, offset in ((0, 2 ** 63 - 1), (0x80 | 63, base)):
        opts = struct.pack("<HHB3x", 9, 1, resol) + struct.pack("<HHq", 14, 8, offset)
        idbs += pt._block(1, struct.pack("<HHI", cap.linktype, 0, 262144) + opts +
                          struct.pack("<HH", 0, 0), "<")
    epbs = []
    for i, p in enumerate(cap.packets):
        t = p.ts_us // 1000000 if i % 2 == 0 else ((p.ts_us % 1000000) << 63) // 1000000
        body = struct.pack("<IIIII", i % 2, t >> 32, t & 0xFFFFFFFF,
                           len(p.data), p.wirelen) + pt._pad4(p.data)
        epbs.append(pt._block(6, body, "<"))
    out.append((name + "-wild-times.pcapng", shb + idbs + b"".join(epbs)))
    # two interfaces of the same link type, 2^-20 s and 10^-3 s units
    recs = [(i % 2, p) for i, p in enumerate(cap.packets)]
    out.append((name + "-two-ifs.pcapng",
                pt.pcapng_multi([(cap.linktype, 6), (cap.linktype, 3)], recs)))
    return out


def xxh32(data, seed=0):
    """XXH32, for the lz4 frame header's checksum."""
    p1, p2, p3, p4, p5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
    m = 0xFFFFFFFF

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & m

    def rnd(acc, lane):
        return rotl((acc + lane * p2) & m, 13) * p1 & m
    n, i = len(data), 0
    if n >= 16:
        v = [(seed + p1 + p2) & m, (seed + p2) & m, seed, (seed - p1) & m]
        while i + 16 <= n:
            for j in range(4):
                v[j] = rnd(v[j], struct.unpack("<I", data[i + 4 * j:i + 4 * j + 4])[0])
            i += 16
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & m
    else:
        h = (seed + p5) & m
    h = (h + n) & m
    while i + 4 <= n:
        h = rotl((h + struct.unpack("<I", data[i:i + 4])[0] * p3) & m, 17) * p4 & m
        i += 4
    while i < n:
        h = rotl((h + data[i] * p5) & m, 11) * p1 & m
        i += 1
    h ^= h >> 15
    h = h * p2 & m
    h ^= h >> 13
    h = h * p3 & m
    return h ^ (h >> 16)


def zstd_stored(data, block=1000):
    """A zstd frame (RFC 8878) of raw blocks: 128 KiB window, no checksum."""
    out = [b"\x28\xb5\x2f\xfd\x00\x38"]
    for i in range(0, len(data), block):
        part = data[i:i + block]
        last = i + block >= len(data)
        out.append(struct.pack("<I", len(part) << 3 | last)[:3] + part)
    return b"".join(out)


def lz4_stored(data, block=1000):
    """An lz4 frame of uncompressed blocks: 64 KiB blocks, no checksum."""
    desc = b"\x60\x40"   # version 1, independent blocks; 64 KiB
    out = [b"\x04\x22\x4d\x18" + desc + bytes([xxh32(desc) >> 8 & 0xFF])]
    for i in range(0, len(data), block):
        part = data[i:i + block]
        out.append(struct.pack("<I", len(part) | 0x80000000) + part)
    return b"".join(out + [bytes(4)])


def compressed_variants(name, data):
    half = len(data) // 2
    return [(name + ".gz", gzip.compress(data[:half], 9, mtime=0) +
             gzip.compress(data[half:], 9, mtime=0)),
            (name + ".zst", zstd_stored(data)),
            (name + ".lz4", lz4_stored(data))]


def main():
    outdir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "fuzz"
    seeds = {"capture": {}, "smtp": {}, "message": {}}
    for name, path in captures():
        cap = pt.read_pcap(str(path))
        seeds["capture"][name + ".pcap"] = path.read_bytes()
        if name.replace("crafted-", "crafted/") in PCAPNG_FROM:
            for n, data in pcapng_variants(name, cap):
                seeds["capture"][n] = data
        seeds["smtp"][name] = smtp_records(cap)
        for i, m in enumerate(messages(cap)):
            seeds["message"]["%s-%d.eml" % (name, i + 1)] = m
    for name in COMPRESSED_FROM:
        for n, data in compressed_variants(name, seeds["capture"][name]):
            seeds["capture"][n] = data
    for p in sorted((ROOT / "pcaps" / "mime-files").glob("*.eml")):
        seeds["message"][p.name] = p.read_bytes()
    for target, files in seeds.items():
        d = outdir / target
        d.mkdir(parents=True, exist_ok=True)
        for old in d.iterdir():
            if old.is_file():
                old.unlink()
        for n, data in sorted(files.items()):
            (d / n).write_bytes(data)
        print("%s: %d seeds, %d bytes" % (d, len(files), sum(map(len, files.values()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
