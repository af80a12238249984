#!/usr/bin/env python3
"""Captures that stress the out-of-order buffer (pcap, Ethernet, IPv4), for benches/ooo.sh.

usage:
  ooo-gen.py descending N OUT.pcap
      one connection (SYN, SYN-ACK, ACK), then N one-byte client segments in descending
      sequence order: every segment but the last waits beyond the hole the last one fills.
  ooo-gen.py one-sided N OUT.pcap [--gap] [--snaplen 96]
      the client's direction only (as behind asymmetric routing or a SPAN port): a SYN, then
      N 1448-byte data segments in order, each frame cut to the snaplen; with --gap the second
      data segment is missing, so every later segment waits beyond that hole.

Deterministic: the output is a pure function of the arguments. TCP checksums are left zero
(tcpaudit verifies them only with --verify-checksums).
"""
import argparse
import struct
import sys

CLIENT = bytes([10, 0, 0, 1])
SERVER = bytes([10, 0, 0, 2])
CPORT, SPORT = 40000, 80
CISN, SISN = 1000, 5000
MSS = 1448
SYN, ACK, PSH = 0x02, 0x10, 0x08


def ip_checksum(h):
    s = sum(struct.unpack("!10H", h))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class Writer:
    def __init__(self, path, snaplen):
        self.f = open(path, "wb")
        self.snaplen = snaplen
        self.t = 1_700_000_000_000_000  # microseconds
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1))

    def tcp(self, from_client, seq, ack, flags, payload_len, payload=b""):
        src, dst = (CLIENT, SERVER) if from_client else (SERVER, CLIENT)
        sp, dp = (CPORT, SPORT) if from_client else (SPORT, CPORT)
        tcp = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          5 << 4, flags, 65535, 0, 0)
        total = 20 + 20 + payload_len
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
        eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
        head = eth + ip + tcp
        orig = len(head) + payload_len
        frame = (head + payload)[: self.snaplen]
        self.t += 10
        self.f.write(struct.pack("<IIII", self.t // 1_000_000, self.t % 1_000_000,
                                 len(frame), orig))
        self.f.write(frame)

    def close(self):
        self.f.close()


def descending(n, out):
    w = Writer(out, 65535)
    w.tcp(True, CISN, 0, SYN, 0)
    w.tcp(False, SISN, CISN + 1, SYN | ACK, 0)
    w.tcp(True, CISN + 1, SISN + 1, ACK, 0)
    for i in range(n - 1, -1, -1):
        w.tcp(True, CISN + 1 + i, SISN + 1, ACK | PSH, 1, bytes([i & 0xFF]))
    w.close()


def one_sided(n, out, gap, snaplen):
    w = Writer(out, snaplen)
    w.tcp(True, CISN, 0, SYN, 0)
    w.tcp(True, CISN + 1, SISN + 1, ACK, 0)
    body = bytes(range(256)) * (MSS // 256 + 1)
    for i in range(n):
        if gap and i == 1:
            continue
        w.tcp(True, CISN + 1 + i * MSS, SISN + 1, ACK, MSS, body[:MSS])
    w.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("kind", choices=["descending", "one-sided"])
    p.add_argument("n", type=int, help="segments")
    p.add_argument("out", help="pcap file to write")
    p.add_argument("--gap", action="store_true", help="one-sided: drop the second segment")
    p.add_argument("--snaplen", type=int, default=96, help="one-sided: bytes kept per frame")
    a = p.parse_args()
    if a.n < 1:
        sys.exit("ooo-gen.py: N must be at least 1")
    if a.kind == "descending":
        descending(a.n, a.out)
    else:
        one_sided(a.n, a.out, a.gap, a.snaplen)


if __name__ == "__main__":
    main()
