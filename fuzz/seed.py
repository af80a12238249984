#!/usr/bin/env python3
"""Builds the fuzz targets' seed corpora from the project's capture fixtures.

usage: fuzz/seed.py [--max-size BYTES]   (run from anywhere; writes fuzz/corpus/<target>/)

- capture: every capture under fixtures/ (pcap, pcapng, gzip) up to --max-size bytes.
- merged:  pairs of small captures, as the target reads them (2-byte length of the first).
- frames:  each capture's frames re-encoded in the frames target's layout (selector byte, link
           type index, then length, time step and bytes per frame).
- app:     each capture's UDP and TCP payloads to or from ports 53, 80 and 443, as operations
           of the app target (opcode, length, bytes).
- split:   the captures of `capture` (the target compares one table with two threads and the
           split run).
Then fuzz/regressions/<target>/ (inputs that once crashed) are copied in as well.
Files are named by content hash, so running it again adds nothing twice.
"""
import argparse, gzip, hashlib, os, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# The frames target's link types, in its order (drive.rs LINK_TYPES).
LINK_TYPES = [0, 1, 9, 12, 14, 51, 101, 105, 108, 113, 127, 228, 239, 276]
# The app target's ports, in its order (drive.rs PORTS).
PORTS = [53, 80, 443, 8080, 5353, 853, 8443, 1234]


def captures(max_size):
    for d, _, files in os.walk(os.path.join(ROOT, "fixtures")):
        for f in sorted(files):
            if f.endswith((".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz", ".cap")):
                p = os.path.join(d, f)
                if os.path.getsize(p) <= max_size:
                    yield p, open(p, "rb").read()


def frames_of(data):
    """(link type, seconds as float, frame bytes) of a pcap or pcapng image; [] if neither."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except Exception:
            return []
    out = []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xd4, 0x4d) else ">"
        nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        lt = struct.unpack(e + "I", data[20:24])[0] & 0xffff
        at = 24
        while at + 16 <= len(data):
            s, frac, cap, _ = struct.unpack(e + "IIII", data[at:at + 16])
            at += 16
            out.append((lt, s + frac / (1e9 if nano else 1e6), data[at:at + cap]))
            at += cap
    elif magic == b"\x0a\x0d\x0d\x0a":
        e, at, ifaces = "<", 0, []
        while at + 12 <= len(data):
            if data[at:at + 4] == b"\x0a\x0d\x0d\x0a":
                e = "<" if data[at + 8:at + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                ifaces = []
            kind, blen = struct.unpack(e + "II", data[at:at + 8])
            if blen < 12:
                break
            body = data[at + 8:at + blen - 4]
            if kind == 1 and len(body) >= 2:
                ifaces.append(struct.unpack(e + "H", body[:2])[0])
            elif kind == 6 and len(body) >= 20:
                iface, hi, lo, cap, _ = struct.unpack(e + "IIIII", body[:20])
                if iface < len(ifaces):
                    out.append((ifaces[iface], ((hi << 32) | lo) / 1e6, body[20:20 + cap]))
            at += blen
    return out


def payloads(frames):
    """(is_udp, src port, dst port, payload) of Ethernet, raw-IP and Linux SLL frames."""
    for lt, _, f in frames:
        if lt == 1 and len(f) >= 14:
            et, ip = struct.unpack(">H", f[12:14])[0], f[14:]
            if et == 0x8100 and len(f) >= 18:
                et, ip = struct.unpack(">H", f[16:18])[0], f[18:]
        elif lt in (101, 228, 229, 12, 14):
            et, ip = (0x86DD if f[:1] and f[0] >> 4 == 6 else 0x0800), f
        elif lt == 113 and len(f) >= 16:
            et, ip = struct.unpack(">H", f[14:16])[0], f[16:]
        else:
            continue
        if et == 0x0800 and len(ip) >= 20 and ip[0] >> 4 == 4:
            proto, l4 = ip[9], ip[(ip[0] & 15) * 4:]
        elif et == 0x86DD and len(ip) >= 40:
            proto, l4 = ip[6], ip[40:]
        else:
            continue
        if proto == 17 and len(l4) >= 8:
            sp, dp = struct.unpack(">HH", l4[:4])
            yield True, sp, dp, l4[8:]
        elif proto == 6 and len(l4) >= 20:
            sp, dp = struct.unpack(">HH", l4[:4])
            data = l4[(l4[12] >> 4) * 4:]
            if data:
                yield False, sp, dp, data


def frames_seed(frames, sel):
    if not frames:
        return None
    lt = frames[0][0]
    if lt not in LINK_TYPES:
        return None
    out, prev = bytearray([sel, LINK_TYPES.index(lt)]), frames[0][1]
    for _, t, f in frames[:400]:
        step = max(0, min(239, int(round((t - prev) * 1000))))
        prev = t
        f = f[:65535]
        out += struct.pack(">HB", len(f), step) + f
    return bytes(out)


def app_seed(frames, sel):
    out = bytearray([sel])
    conns = {}
    for udp, sp, dp, data in payloads(frames):
        port, from_server = (dp, False) if dp in PORTS else (sp, True) if sp in PORTS else (None, None)
        if port is None:
            continue
        key = (min(sp, dp), max(sp, dp))
        conn = conns.setdefault(key, len(conns) % 4)
        kind = (1 if from_server else 0) if udp else (3 if from_server else 2)
        op = PORTS.index(port) << 5 | conn << 3 | kind
        data = data[:65535]
        out += struct.pack(">BH", op, len(data)) + data
        if len(out) > 60000:
            break
    for conn in range(min(len(conns), 4)):
        out += struct.pack(">BH", 6 | conn << 3, 0)
    return bytes(out) if len(out) > 1 else None


def write(target, data):
    if not data:
        return 0
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, hashlib.sha1(data).hexdigest())
    if os.path.exists(p):
        return 0
    with open(p, "wb") as f:
        f.write(data)
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-size", type=int, default=256 << 10)
    args = ap.parse_args()
    caps = list(captures(args.max_size))
    n = {"capture": 0, "merged": 0, "frames": 0, "app": 0, "split": 0}
    small = [c for _, c in caps if len(c) < 32 << 10]
    for i, (path, data) in enumerate(caps):
        n["capture"] += write("capture", data)
        n["split"] += write("split", data)
        fr = frames_of(data)
        n["frames"] += write("frames", frames_seed(fr, i % 128))
        n["app"] += write("app", app_seed(fr, i % 2 * 2))
    for i, a in enumerate(small):
        b = small[(i + 1) % len(small)]
        n["merged"] += write("merged", struct.pack(">H", len(a)) + a + b)
    for target in n:
        reg = os.path.join(HERE, "regressions", target)
        if os.path.isdir(reg):
            for f in sorted(os.listdir(reg)):
                n[target] += write(target, open(os.path.join(reg, f), "rb").read())
    for target, k in n.items():
        print(f"{target}: {k} new seeds in fuzz/corpus/{target}/")


if __name__ == "__main__":
    sys.exit(main())
