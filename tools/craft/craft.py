# SPDX-License-Identifier: GPL-2.0-or-later
"""craft.py - write byte-exact TCP test captures (classic pcap, Ethernet, IPv4/IPv6).

Python 3 standard library only. Every packet gets correct sequence and
acknowledgement numbers, flags and checksums, and a time taken from a fixed
start plus a fixed step, so the same script always writes the same bytes.

    pcap = Pcap()
    c = Conn(pcap, client=("192.0.2.7", 40001), server=("198.51.100.25", 25))
    c.handshake()
    c.server(b"220 mx.example.test ESMTP\\r\\n")
    c.client(b"EHLO client.test\\r\\n")
    ...
    c.close()
    pcap.write("out.pcap")

What the capture misses is chosen per call, never by editing packets
afterwards: the connection's state always advances as if every packet had
been sent, only the writing is skipped, so later numbers stay right.

- handshake(syn=False, synack=..., ack=...): that part was not captured;
- capture(False) ... capture(True): nothing is written in between (a
  capture that starts late: mid-stream);
- Conn(only="client"): only that side's packets are written (one-sided);
- Conn(acks_from={"client"}): pure ACKs of the other side are not written
  (the receiver's ACKs are missing); acks=False on one call: no ACK after it;
- client(data, seg=N): split the data in segments of N bytes;
- drop={i, ...}: those segments of this call are not captured (and never
  retransmitted);
- order=[...]: write this call's segments in that order (reordering);
- rst(side): a reset; close(): FIN exchange.
"""

import ipaddress
import struct

LINKTYPE_ETHERNET = 1
START_US = 1_700_000_000_000_000  # 2023-11-14T22:13:20Z, fixed for determinism
STEP_US = 1000  # time between two packets

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

SIDES = ("client", "server")


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class Pcap:
    """A classic pcap file being built: Ethernet link type, microseconds."""

    def __init__(self, start_us=START_US, step_us=STEP_US, snaplen=262144):
        self.now = start_us
        self.step = step_us
        self.snaplen = snaplen
        self.records = []

    def tick(self, us=None):
        """Advance the clock (by one step, or by us microseconds)."""
        self.now += self.step if us is None else us

    def ip(self, packet, src_mac, dst_mac, capture=True):
        """One IP packet at the current time; the clock then advances."""
        if capture:
            etype = 0x86DD if packet[0] >> 4 == 6 else 0x0800
            frame = dst_mac + src_mac + struct.pack("!H", etype) + packet
            self.records.append((self.now, frame))
        self.tick()

    def data(self):
        out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, self.snaplen,
                           LINKTYPE_ETHERNET)]
        for ts, frame in self.records:
            cap = frame[:self.snaplen]
            out.append(struct.pack("<IIII", ts // 1000000, ts % 1000000,
                                   len(cap), len(frame)))
            out.append(cap)
        return b"".join(out)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(self.data())


class _Side:
    def __init__(self, addr, port, isn, window, wscale, mac):
        self.addr = ipaddress.ip_address(addr)
        self.port = port
        self.isn = isn
        self.nxt = isn  # next sequence number to send
        self.window = window
        self.wscale = wscale
        self.mac = mac
        self.ipid = 1
        self.rcv = 0  # next sequence number expected from the peer


class Conn:
    """One TCP connection between a client and a server."""

    def __init__(self, pcap, client=("192.0.2.7", 40001),
                 server=("198.51.100.25", 25), isn=(0x10000000, 0x50000000),
                 window=(64240, 65160), wscale=(7, 7), mss=1460,
                 timestamps=False, only=None, acks_from=SIDES):
        self.pcap = pcap
        self.s = {
            "client": _Side(client[0], client[1], isn[0], window[0],
                            wscale[0] if wscale else None,
                            b"\x02\x00\x00\x00\x00\x01"),
            "server": _Side(server[0], server[1], isn[1], window[1],
                            wscale[1] if wscale else None,
                            b"\x02\x00\x00\x00\x00\x02"),
        }
        if self.s["client"].addr.version != self.s["server"].addr.version:
            raise ValueError("client and server must use the same IP version")
        self.mss = mss
        self.timestamps = timestamps
        self.only = only
        self.acks_from = set(acks_from)
        self.capturing = True

    # ---- what is captured ----

    def capture(self, on):
        """Start (True) or stop (False) writing packets; the dialogue goes on."""
        self.capturing = on

    @staticmethod
    def peer(side):
        return "server" if side == "client" else "client"

    # ---- packet building ----

    def _options(self, side, flags):
        me = self.s[side]
        opt = b""
        if flags & SYN:
            opt += struct.pack("!BBH", 2, 4, self.mss)
            if me.wscale is not None:
                opt += struct.pack("!BBBB", 1, 3, 3, me.wscale)
        if self.timestamps:
            val = (self.pcap.now // 1000) & 0xFFFFFFFF
            ecr = getattr(self, "_ts_" + self.peer(side), 0)
            setattr(self, "_ts_" + side, val)
            opt += struct.pack("!BBBBII", 1, 1, 8, 10, val, ecr)
        return opt

    def packet(self, side, flags, payload=b"", seq=None, ack=None,
               window=None):
        """The IP packet side sends (bytes); does not write or advance."""
        me, other = self.s[side], self.s[self.peer(side)]
        seq = me.nxt if seq is None else seq
        if ack is None:
            ack = me.rcv if flags & ACK else 0
        opt = self._options(side, flags)
        hlen = 20 + len(opt)
        win = me.window if window is None else window
        tcp = struct.pack("!HHIIBBHHH", me.port, other.port,
                          seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (hlen // 4) << 4,
                          flags, win, 0, 0) + opt + payload
        src, dst = me.addr.packed, other.addr.packed
        if me.addr.version == 4:
            pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
        else:
            pseudo = src + dst + struct.pack("!IxxxB", len(tcp), 6)
        tcp = tcp[:16] + struct.pack("!H", _csum(pseudo + tcp)) + tcp[18:]
        if me.addr.version == 4:
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), me.ipid,
                             0x4000, 64, 6, 0, src, dst)
            ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
        else:
            ip = struct.pack("!IHBB16s16s", 0x60000000, len(tcp), 6, 64, src,
                             dst)
        me.ipid = (me.ipid + 1) & 0xFFFF
        return ip + tcp

    def emit(self, side, flags, payload=b"", capture=True, **kw):
        """Send one segment from side; write it if it is captured."""
        me, other = self.s[side], self.s[self.peer(side)]
        seq = kw.pop("seq", me.nxt)
        pkt = self.packet(side, flags, payload, seq=seq, **kw)
        cap = capture and self.capturing and self.only in (None, side)
        self.pcap.ip(pkt, me.mac, other.mac, cap)
        end = seq + len(payload) + (1 if flags & (SYN | FIN) else 0)
        if end - me.nxt > 0:
            me.nxt = end
        # the peer receives everything: only the capture misses packets
        if end - other.rcv > 0 and not flags & RST:
            other.rcv = end
        return pkt

    # ---- the dialogue ----

    def handshake(self, syn=True, synack=True, ack=True):
        """SYN, SYN-ACK, ACK; False leaves that packet out of the capture."""
        c, s = self.s["client"], self.s["server"]
        self.emit("client", SYN, capture=syn)
        self.emit("server", SYN | ACK, capture=synack, ack=c.nxt)
        self.emit("client", ACK, capture=ack, ack=s.nxt)

    def send(self, side, data, seg=None, drop=(), order=None, acks=True,
             flags=PSH):
        """side sends data in segments of seg bytes (default: the MSS).

        drop: indices of segments not captured; order: the order in which
        the segments are written; acks: the peer sends a pure ACK after
        (unless its ACKs are not captured, see acks_from).
        """
        seg = seg or self.mss
        if not 0 < seg <= 65495:
            raise ValueError("a segment holds 1 to 65495 bytes")
        me = self.s[side]
        chunks = [data[i:i + seg] for i in range(0, len(data), seg)] or [b""]
        segs = []
        seq = me.nxt
        for ch in chunks:
            segs.append((seq, ch))
            seq += len(ch)
        if order is not None and sorted(order) != list(range(len(segs))):
            raise ValueError("order must be a permutation of 0..%d" %
                             (len(segs) - 1))
        for i in order if order is not None else range(len(segs)):
            sq, ch = segs[i]
            self.emit(side, ACK | flags, ch, capture=i not in drop, seq=sq)
        me.nxt = seq
        if acks:
            self.ack(self.peer(side))

    def client(self, data, **kw):
        self.send("client", data, **kw)

    def server(self, data, **kw):
        self.send("server", data, **kw)

    def ack(self, side, capture=True):
        """A pure ACK from side (written only if side's ACKs are captured)."""
        self.emit(side, ACK, capture=capture and side in self.acks_from)

    def close(self, first="client", capture=True):
        """first sends FIN, the peer ACKs and sends its FIN, first ACKs."""
        other = self.peer(first)
        self.emit(first, FIN | ACK, capture=capture)
        self.emit(other, FIN | ACK, capture=capture)
        self.emit(first, ACK, capture=capture)

    def fin(self, side, capture=True):
        """A FIN from side only."""
        self.emit(side, FIN | ACK, capture=capture)

    def rst(self, side, capture=True):
        """A reset from side."""
        self.emit(side, RST | ACK, capture=capture)
