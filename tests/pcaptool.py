# SPDX-License-Identifier: GPL-2.0-or-later
"""pcaptool.py - read, rewrite and write pcap/pcapng captures for tests/cli.py."""
import base64
import hashlib
import ipaddress
import struct

ETH_HLEN = 14
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

PCAP_MAGIC_US = 0xA1B2C3D4


class Packet:
    """One record: timestamp in microseconds, wire length and captured bytes."""

    def __init__(self, ts_us, wirelen, data):
        self.ts_us = ts_us
        self.wirelen = wirelen
        self.data = data

    def replace(self, data, delta=None):
        """A copy with new bytes; the wire length moves by the same amount."""
        if delta is None:
            delta = len(data) - len(self.data)
        return Packet(self.ts_us, self.wirelen + delta, data)


class Capture:
    """A classic pcap file: link type, snap length and packets."""

    def __init__(self, linktype, snaplen, packets):
        self.linktype = linktype
        self.snaplen = snaplen
        self.packets = packets


def read_pcap(path):
    """Parse a classic pcap (either byte order, micro or nanoseconds)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 24:
        raise ValueError("%s: too short for a pcap header" % path)
    for endian in ("<", ">"):
        (magic,) = struct.unpack(endian + "I", raw[:4])
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            break
    else:
        raise ValueError("%s: not a classic pcap file" % path)
    nano = magic == 0xA1B23C4D
    _, _, _, _, _, snaplen, linktype = struct.unpack(endian + "IHHiIII", raw[:24])
    packets = []
    off = 24
    while off < len(raw):
        if off + 16 > len(raw):
            raise ValueError("%s: truncated record header" % path)
        sec, frac, caplen, wirelen = struct.unpack(endian + "IIII", raw[off:off + 16])
        off += 16
        if off + caplen > len(raw):
            raise ValueError("%s: truncated record" % path)
        us = frac // 1000 if nano else frac
        packets.append(Packet(sec * 1000000 + us, wirelen, raw[off:off + caplen]))
        off += caplen
    return Capture(linktype & 0xFFFF, snaplen, packets)


def pcap_bytes(linktype, packets, snaplen=262144, endian="<", nano=False):
    """A classic pcap file in the given byte order, micro or nanosecond timestamps."""
    magic = 0xA1B23C4D if nano else PCAP_MAGIC_US
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for p in packets:
        frac = p.ts_us % 1000000
        out.append(struct.pack(endian + "IIII", p.ts_us // 1000000,
                               frac * 1000 if nano else frac, len(p.data), p.wirelen))
        out.append(p.data)
    return b"".join(out)


def _pad4(b):
    return b + b"\0" * (-len(b) % 4)


def _block(btype, body, endian):
    body = _pad4(body)
    total = len(body) + 12
    return struct.pack(endian + "II", btype, total) + body + struct.pack(endian + "I", total)


def pcapng_bytes(linktype, packets, snaplen=262144, tsresol=9, endian="<"):
    """A pcapng file: SHB, one IDB (if_tsresol = 10**-tsresol s), one EPB per packet.

    tsresol None leaves the option out (the default, microseconds).
    """
    return pcapng_multi([(linktype, tsresol)], [(0, p) for p in packets], snaplen, endian)


def pcapng_multi(interfaces, records, snaplen=262144, endian="<"):
    """A pcapng file with several IDBs: interfaces is [(linktype, tsresol)],
    records is [(interface index, Packet)]."""
    out = [_block(0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1), endian)]
    for linktype, tsresol in interfaces:
        opts = b""
        if tsresol is not None:
            opts += _pad4(struct.pack(endian + "HHB", 9, 1, tsresol))
            opts += struct.pack(endian + "HH", 0, 0)
        out.append(_block(1, struct.pack(endian + "HHI", linktype, 0, snaplen) + opts, endian))
    for iface, p in records:
        tsresol = interfaces[iface][1]
        t = p.ts_us * 10 ** (tsresol if tsresol is not None else 6) // 1000000
        body = struct.pack(endian + "IIIII", iface, t >> 32, t & 0xFFFFFFFF,
                           len(p.data), p.wirelen) + _pad4(p.data)
        out.append(_block(6, body, endian))
    return b"".join(out)


# ---- link layers, from an Ethernet frame ----

def eth_type(frame):
    return struct.unpack("!H", frame[12:14])[0]


def eth_payload(frame):
    return frame[ETH_HLEN:]


def to_raw(frame):
    return eth_payload(frame)


def to_sll(frame):
    """Linux cooked v1: packet type, ARPHRD, address length, address, protocol."""
    hdr = struct.pack("!HHH8sH", 0, 772, 6, frame[6:12] + b"\0\0", eth_type(frame))
    return hdr + eth_payload(frame)


def to_sll2(frame):
    """Linux cooked v2: protocol, reserved, ifindex, ARPHRD, pkttype, addr len, addr."""
    hdr = struct.pack("!HHIHBB8s", eth_type(frame), 0, 1, 772, 0, 6, frame[6:12] + b"\0\0")
    return hdr + eth_payload(frame)


def to_vlan(frame, vid=100):
    return frame[:12] + struct.pack("!HH", 0x8100, vid) + frame[12:]


def to_qinq(frame, outer=200, inner=100):
    return frame[:12] + struct.pack("!HHHH", 0x88A8, outer, 0x8100, inner) + frame[12:]


def to_null(frame, af4=2, af6=24, endian="<"):
    """DLT_NULL: the address family in the writer's byte order."""
    af = af4 if eth_type(frame) == ETHERTYPE_IPV4 else af6
    return struct.pack(endian + "I", af) + eth_payload(frame)


def to_loop(frame, af4=2, af6=24):
    """DLT_LOOP: the address family in network byte order."""
    af = af4 if eth_type(frame) == ETHERTYPE_IPV4 else af6
    return struct.pack("!I", af) + eth_payload(frame)


def convert(cap, fn):
    """Apply fn to every Ethernet frame; wire lengths follow the header change."""
    return [p.replace(fn(p.data)) for p in cap.packets]


# ---- IP/TCP rewriting (Ethernet frames) ----

def ipv4_checksum(hdr):
    s = 0
    for i in range(0, len(hdr), 2):
        s += (hdr[i] << 8) + hdr[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def tcp_offset(frame):
    """(ip offset, tcp offset, ip version) of an Ethernet TCP frame, or None."""
    et = eth_type(frame)
    if et == ETHERTYPE_IPV4 and frame[ETH_HLEN + 9] == 6:
        return ETH_HLEN, ETH_HLEN + (frame[ETH_HLEN] & 15) * 4, 4
    if et == ETHERTYPE_IPV6 and frame[ETH_HLEN + 6] == 6:
        return ETH_HLEN, ETH_HLEN + 40, 6
    return None


def ports(frame):
    _, t, _ = tcp_offset(frame)
    return struct.unpack("!HH", frame[t:t + 4])


def rewrite_port(frame, old, new):
    """Replace TCP port old by new, as source and as destination (checksum untouched)."""
    where = tcp_offset(frame)
    if not where:
        return frame
    _, t, _ = where
    sp, dp = struct.unpack("!HH", frame[t:t + 4])
    sp = new if sp == old else sp
    dp = new if dp == old else dp
    return frame[:t] + struct.pack("!HH", sp, dp) + frame[t + 4:]


def rewrite_ip(frame, server_port, client_ip, server_ip):
    """Give the client and the server of a TCP flow new addresses (same family)."""
    where = tcp_offset(frame)
    if not where:
        return frame
    ip, t, ver = where
    _, dp = struct.unpack("!HH", frame[t:t + 4])
    c = ipaddress.ip_address(client_ip).packed
    s = ipaddress.ip_address(server_ip).packed
    src, dst = (c, s) if dp == server_port else (s, c)
    hdr = bytearray(frame[ip:t])
    if ver == 4:
        hdr[12:16] = src
        hdr[16:20] = dst
        hdr[10:12] = b"\0\0"
        hdr[10:12] = struct.pack("!H", ipv4_checksum(bytes(hdr)))
    else:
        hdr[8:24] = src
        hdr[24:40] = dst
    return frame[:ip] + bytes(hdr) + frame[t:]


def community_id(src_ip, src_port, dst_ip, dst_port, proto=6, seed=0):
    """Community ID v1 of a flow, computed from the specification."""
    a = ipaddress.ip_address(src_ip).packed
    b = ipaddress.ip_address(dst_ip).packed
    if (a, src_port) > (b, dst_port):
        a, b, src_port, dst_port = b, a, dst_port, src_port
    data = (struct.pack("!H", seed) + a + b + struct.pack("!BB", proto, 0)
            + struct.pack("!HH", src_port, dst_port))
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode()


def add_ipv4_options(frame, opts=b"\x01\x01\x01\x00"):
    """Insert IPv4 header options (NOPs and an end-of-list by default)."""
    if eth_type(frame) != ETHERTYPE_IPV4:
        return frame
    ip = ETH_HLEN
    ihl = (frame[ip] & 15) * 4
    hdr = bytearray(frame[ip:ip + ihl] + opts)
    hdr[0] = (hdr[0] & 0xF0) | (len(hdr) // 4)
    total = struct.unpack("!H", hdr[2:4])[0] + len(opts)
    hdr[2:4] = struct.pack("!H", total)
    hdr[10:12] = b"\0\0"
    hdr[10:12] = struct.pack("!H", ipv4_checksum(bytes(hdr)))
    return frame[:ip] + bytes(hdr) + frame[ip + ihl:]


def add_ipv6_ext(frame, types=(0, 60)):
    """Insert IPv6 extension headers (8 bytes each, PadN filled) before TCP."""
    if eth_type(frame) != ETHERTYPE_IPV6:
        return frame
    ip = ETH_HLEN
    hdr = bytearray(frame[ip:ip + 40])
    nxt = hdr[6]
    exts = b""
    for t in reversed(types):
        exts = struct.pack("!BBBB4s", nxt, 0, 1, 4, b"\0\0\0\0") + exts
        nxt = t
    hdr[6] = nxt
    plen = struct.unpack("!H", hdr[4:6])[0] + len(exts)
    hdr[4:6] = struct.pack("!H", plen)
    return frame[:ip] + bytes(hdr) + exts + frame[ip + 40:]
