#!/usr/bin/env python3
"""Writes a pcap of N ACK-only TCP segments, each on a four-tuple of its own (no SYN, no reply):
the capture that costs the most connection records per byte, for measuring memory per tracked
connection and the --max-memory bound. Such one-segment connections are what a scan or
backscatter leaves, and past 16,384 tracked at once tcpaudit holds each as its segment; with
--answered each ACK is answered by one from the other side, so every connection shows two
segments and is held in full.

Usage: tuples-gen.py OUT.pcap N [--answered]
"""
import struct
import sys


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main() -> None:
    out, n = sys.argv[1], int(sys.argv[2])
    answered = sys.argv[3:] == ["--answered"]
    eth = bytes.fromhex("020000000002" "020000000001" "0800")
    dst = bytes([10, 200, 0, 1])
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            src = bytes([10, 1 + (i >> 16) % 200, (i >> 8) & 0xFF, i & 0xFF])
            sport = 1024 + (i // 16_777_216) % 60000
            ts = 1_700_000_000_000_000 + i  # one microsecond apart
            f.write(segment(eth, src, dst, sport, 443, 1000 + i, 5000, i, ts))
            if answered:
                back = eth[6:12] + eth[0:6] + eth[12:]
                f.write(segment(back, dst, src, 443, sport, 5000, 1000 + i, i, ts))


def segment(eth, src, dst, sport, dport, seq, ack, ip_id, ts) -> bytes:
    """One pcap record: an ACK from src:sport to dst:dport, at ts (microseconds)."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x10, 502, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ip_id & 0xFFFF, 0, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    frame = eth + ip + tcp
    return struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(frame), len(frame)) + frame


if __name__ == "__main__":
    main()
