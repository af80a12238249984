#!/usr/bin/env python3
"""Compare tcpaudit's application-layer records (analyze --app -f json) with tshark.

Usage: python3 benches/app-oracle.py BIN [--jobs N] [--details OUT.json] [--only SUBSTR] [FILE ...]

For every capture under ../shared/pcaps and fixtures/ (or the FILEs given) runs
  BIN analyze --app -f json FILE
  tshark -r FILE -2 -n -o tcp.desegment_tcp_streams:TRUE -Y 'dns or mdns or llmnr or http or tls.handshake'
         -T json -J 'frame dns mdns llmnr http tls'
and compares DNS, HTTP and TLS transactions field by field. Prints a summary table (per protocol
and field: compared / identical / differing / agreement) plus missing-on-each-side counts and up to
5 examples per disagreement class. --details writes every example to a JSON file.
"""
import argparse
import collections
import gzip
import json
import os
import subprocess
import sys
from multiprocessing import Pool

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ROOTS = [os.path.join(os.path.dirname(REPO), "shared", "pcaps"), os.path.join(REPO, "fixtures")]
EXTS = (".pcap", ".pcapng", ".cap", ".pcap.gz")
TSHARK = ["tshark", "-2", "-n", "-o", "tcp.desegment_tcp_streams:TRUE",
          "-Y", "dns or mdns or llmnr or http or tls.handshake",
          "-T", "json", "-J", "frame dns mdns llmnr http tls"]
EPS = 1e-6 + 1e-9  # 1 microsecond (tcpaudit prints 6 decimals)

DNS_TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT",
             28: "AAAA", 33: "SRV", 35: "NAPTR", 39: "DNAME", 41: "OPT", 43: "DS", 46: "RRSIG",
             47: "NSEC", 48: "DNSKEY", 50: "NSEC3", 64: "SVCB", 65: "HTTPS", 251: "IXFR",
             252: "AXFR", 255: "*", 257: "CAA"}
TLS_VERSIONS = {0x0300: "SSLv3", 0x0301: "TLSv10", 0x0302: "TLSv11", 0x0303: "TLSv12",
                0x0304: "TLSv13", 0x0002: "SSLv2"}


def captures(args_files):
    if args_files:
        return args_files
    out = []
    for root in ROOTS:
        for d, _, fs in os.walk(root):
            for f in fs:
                if f.endswith(EXTS):
                    out.append(os.path.join(d, f))
    return sorted(out)


# ---------------------------------------------------------------- tshark JSON helpers

class Obj(list):
    """A JSON object as its (key, value) pairs in document order: tshark writes repeated keys
    (several DNS answers with the same label, several DNS messages in one frame) and a dict
    would merge or reorder them."""

    def items(self):
        return iter(self)

    def getall(self, key):
        return [v for k, v in self if k == key]

    def get(self, key, default=None):
        vs = self.getall(key)
        if not vs:
            return default
        return vs[0] if len(vs) == 1 else vs

    def __contains__(self, key):
        return any(k == key for k, _ in self)


def flatten(obj, out=None):
    """Every leaf 'proto.field' of a tshark JSON subtree -> list of string values, in order."""
    if out is None:
        out = collections.defaultdict(list)
    if isinstance(obj, Obj):
        for k, v in obj:
            if isinstance(v, (Obj, list)):
                if isinstance(v, list) and not isinstance(v, Obj) and all(isinstance(x, str) for x in v):
                    out[k].extend(v)
                else:
                    flatten(v, out)
            else:
                out[k].append(v)
    elif isinstance(obj, list):
        for x in obj:
            flatten(x, out)
    return out


def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) and not isinstance(v, Obj) else [v]


def first(d, k, conv=None):
    v = d.get(k)
    if not v:
        return None
    return conv(v[0]) if conv else v[0]


def to_int(s):
    return int(s, 0)


_cipher_names = None


def cipher_names():
    global _cipher_names
    if _cipher_names is None:
        _cipher_names = {}
        out = subprocess.run(["tshark", "-G", "values"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            p = line.split("\t")
            if len(p) == 4 and p[0] == "V" and p[1] == "tls.handshake.ciphersuite":
                _cipher_names[int(p[2])] = p[3]
    return _cipher_names


def tls_version(v):
    return TLS_VERSIONS.get(v, "0x%04x" % v)


def grease(v):
    return v & 0x0F0F == 0x0A0A and v >> 8 == v & 0xFF


# ---------------------------------------------------------------- tshark extraction

def dns_message(m, frame, ts):
    f = flatten(Obj((k, v) for k, v in m if k not in ("Answers", "Authoritative nameservers",
                                                       "Additional records")))
    answers, ttls = [], []
    for sect in m.getall("Answers"):
        for label, r in sect:
            if not isinstance(r, Obj):
                continue
            rf = flatten(r)
            t = first(rf, "dns.resp.type", int)
            key = {1: "dns.a", 28: "dns.aaaa", 5: "dns.cname", 2: "dns.ns", 12: "dns.ptr.domain_name",
                   15: "dns.mx.mail_exchange"}.get(t)
            if key and rf.get(key):
                txt = rf[key][0]
                if txt == "<Root>":
                    txt = ""
            else:
                txt = "<%s>" % DNS_TYPES.get(t, "?")
            answers.append(txt)
            ttls.append(first(rf, "dns.resp.ttl", int))
    qname = first(f, "dns.qry.name")
    if qname == "<Root>":
        qname = ""
    return {
        "frame": frame, "ts": ts,
        "id": first(f, "dns.id", to_int),
        "response": first(f, "dns.flags.response") == "1",
        "qname": qname, "qtype": first(f, "dns.qry.type", int),
        "qclass": (first(f, "dns.qry.class", to_int) or 0) & 0x7FFF if f.get("dns.qry.class") else None,
        "rcode": first(f, "dns.flags.rcode", int),
        "AA": first(f, "dns.flags.authoritative") == "1", "TC": first(f, "dns.flags.truncated") == "1",
        "RD": first(f, "dns.flags.recdesired") == "1", "RA": first(f, "dns.flags.recavail") == "1",
        "answers": answers, "ttls": ttls,
        "response_to": first(f, "dns.response_to", int), "time": first(f, "dns.time", float),
        "response_in": first(f, "dns.response_in", int),
        "retransmission": bool(f.get("dns.retransmission") or f.get("dns.retransmit_request_in")
                               or f.get("dns.retransmit_response_in")),
        "n_answers": first(f, "dns.count.answers", int),
    }


def http_message(m, frame, ts):
    f = flatten(m)
    d = {"frame": frame, "ts": ts}
    if f.get("http.request.method"):
        d["kind"] = "req"
        d["method"] = first(f, "http.request.method")
        d["uri"] = first(f, "http.request.uri")
        v = first(f, "http.request.version")
        d["version"] = v[5:] if v and v.startswith("HTTP/") else v
        d["host"] = first(f, "http.host")
        d["user_agent"] = first(f, "http.user_agent")
        d["referrer"] = first(f, "http.referer")
        d["cookie_headers"] = f.get("http.cookie", [])
        d["response_in"] = first(f, "http.response_in", int)
    elif f.get("http.response.code"):
        d["kind"] = "resp"
        d["code"] = first(f, "http.response.code", int)
        d["phrase"] = first(f, "http.response.phrase")
        d["request_in"] = first(f, "http.request_in", int)
        d["time"] = first(f, "http.time", float)
        d["set_cookie_headers"] = f.get("http.set_cookie", [])
    else:
        return None
    d["content_length"] = first(f, "http.content_length", int)
    cs = f.get("http.chunk_size")
    d["chunked_len"] = sum(int(x) for x in cs) if cs else None
    return d


def tls_frame(layers_tls, frame, ts):
    out = []
    for rec in as_list(layers_tls):
        f = flatten(rec)
        types = [int(x) for x in f.get("tls.handshake.type", [])]
        if 1 in types:
            vs = [to_int(x) for x in f.get("tls.handshake.extensions.supported_version", [])]
            vs = [v for v in vs if not grease(v)]
            legacy = first(f, "tls.handshake.version", to_int)
            out.append({"kind": "ch", "frame": frame, "ts": ts,
                        "server_name": first(f, "tls.handshake.extensions_server_name"),
                        "client_versions": [tls_version(v) for v in (vs or ([legacy] if legacy else []))],
                        "client_alpn": f.get("tls.handshake.extensions_alpn_str", [])})
        if 2 in types:
            vs = [to_int(x) for x in f.get("tls.handshake.extensions.supported_version", [])]
            legacy = first(f, "tls.handshake.version", to_int)
            cs = first(f, "tls.handshake.ciphersuite", to_int)
            out.append({"kind": "sh", "frame": frame, "ts": ts,
                        "version": tls_version(vs[0] if vs else legacy) if (vs or legacy) else None,
                        "cipher": cipher_names().get(cs, "0x%04x" % cs) if cs is not None else None,
                        "alpn": first(f, "tls.handshake.extensions_alpn_str")})
    return out


def run_tshark(path):
    p = subprocess.run([TSHARK[0], "-r", path] + TSHARK[1:], capture_output=True, text=True)
    if not p.stdout.strip():
        return [], p.stderr.strip()[:200]
    try:
        pkts = json.loads(p.stdout, object_pairs_hook=Obj)
    except json.JSONDecodeError as e:
        return [], "json: %s" % e
    return pkts, p.stderr.strip()[:200] if p.returncode else ""


FRAME_FLAGS = {}


def why(t, frame):
    """tshark's own notes on a frame that explain a one-sided record."""
    return FRAME_FLAGS.get((t.path, frame), [])


def frame_info(path):
    """frame -> (tcp.stream, fin, tcp.len, frame.protocols) for every frame."""
    p = subprocess.run(["tshark", "-r", path, "-n", "-T", "fields", "-E", "separator=/t",
                        "-e", "frame.number", "-e", "tcp.stream", "-e", "tcp.flags.fin", "-e", "tcp.len",
                        "-e", "frame.protocols", "-e", "tcp.analysis.retransmission", "-e", "frame.len",
                        "-e", "frame.cap_len"], capture_output=True, text=True)
    out = {}
    for line in p.stdout.splitlines():
        f = line.split("\t")
        if len(f) < 5 or not f[0]:
            continue
        out[int(f[0])] = (f[1].split(",")[-1] or None, f[2].split(",")[-1] in ("1", "True"),
                          int(f[3].split(",")[-1] or 0), f[4])
        if len(f) >= 8:
            flags = []
            if f[5]:
                flags.append("tcp retransmission")
            if f[6] and f[7] and int(f[7]) < int(f[6]):
                flags.append("snaplen-truncated frame")
            if flags:
                FRAME_FLAGS[(path, int(f[0]))] = flags
    return out


def extract(pkts):
    dns, http, tls = [], [], []
    for pk in pkts:
        L = pk.get("_source").get("layers")
        fr = L.getall("frame")[0]
        frame = int(fr.get("frame.number"))
        ts = float(fr.get("frame.time_epoch"))
        for proto in ("dns", "mdns", "llmnr"):
            for i, m in enumerate(L.getall(proto)):
                if isinstance(m, Obj):
                    d = dns_message(m, frame, ts)
                    d["proto_layer"] = proto
                    d["idx"] = i
                    dns.append(d)
        for i, m in enumerate(L.getall("http")):
            if isinstance(m, Obj):
                d = http_message(m, frame, ts)
                if d:
                    d["idx"] = i
                    http.append(d)
        if "tls" in L:
            tls.extend(tls_frame(L.getall("tls"), frame, ts))
    return dns, http, tls


# ---------------------------------------------------------------- comparison bookkeeping

class Tally:
    def __init__(self, path):
        self.path = path
        self.fields = collections.defaultdict(lambda: [0, 0])  # (proto, field) -> [same, diff]
        self.counts = collections.Counter()  # free-form counters
        self.examples = collections.defaultdict(list)  # class -> examples

    def cmp(self, proto, field, a, b, frame, eq=None, cls=None, extra=None):
        same = eq(a, b) if eq else a == b
        self.fields[(proto, field)][0 if same else 1] += 1
        if not same:
            self.ex(cls or "%s.%s differs" % (proto, field), frame,
                    {"tcpaudit": a, "tshark": b, **(extra or {})})
        return same

    def ex(self, cls, frame, info):
        self.counts["class:" + cls] += 1
        if len(self.examples[cls]) < 5:
            self.examples[cls].append({"file": self.path, "frame": frame, **info})


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= EPS


def norm_addr_list(xs):
    return list(xs)


# ---------------------------------------------------------------- DNS

def compare_dns(t, recs, tsh):
    q_by = collections.defaultdict(list)
    r_by = collections.defaultdict(list)
    for m in tsh:
        (r_by if m["response"] else q_by)[m["frame"]].append(m)
    used_q, used_r = set(), set()

    def pick(by, frame, tid, used):
        c = [m for m in by.get(frame, []) if (m["frame"], m["idx"], m["proto_layer"]) not in used]
        for m in c:
            if m["id"] == tid:
                return m
        return c[0] if len(c) == 1 else None

    for r in recs:
        t.counts["dns.tcpaudit_records"] += 1
        t.counts["dns.status." + r["status"]] += 1
        q = s = None
        if r["queries"] > 0:
            q = pick(q_by, r["frame"], r["trans_id"], used_q)
            if q is None:
                t.ex("dns: tcpaudit query frame has no tshark DNS query", r["frame"],
                     {"tcpaudit": {k: r[k] for k in ("query", "trans_id", "orig_port", "resp_port", "proto")},
                      "tshark_msgs_at_frame": len(q_by.get(r["frame"], [])) + len(r_by.get(r["frame"], []))})
                t.counts["dns.query_missing_in_tshark"] += 1
            else:
                used_q.add((q["frame"], q["idx"], q["proto_layer"]))
                t.cmp("dns", "trans_id", r["trans_id"], q["id"], r["frame"])
                t.cmp("dns", "query", r["query"], q["qname"], r["frame"])
                t.cmp("dns", "qtype", r["qtype"], q["qtype"], r["frame"])
                t.cmp("dns", "qclass", r["qclass"] & 0x7FFF if r["qclass"] is not None else None,
                      q["qclass"], r["frame"])
                # tshark's pairing of the query
                if r["response_frame"] is not None or q["response_in"] is not None:
                    t.cmp("dns", "pairing(query.response_in)", r["response_frame"], q["response_in"],
                          r["frame"], extra={"query": r["query"], "queries": r["queries"],
                                             "responses": r["responses"]})
        if r["response_frame"] is not None:
            s = pick(r_by, r["response_frame"], r["trans_id"], used_r)
            if s is None:
                t.ex("dns: tcpaudit response frame has no tshark DNS response", r["response_frame"],
                     {"tcpaudit": {k: r[k] for k in ("query", "trans_id", "orig_port", "resp_port", "proto")}})
                t.counts["dns.response_missing_in_tshark"] += 1
            else:
                used_r.add((s["frame"], s["idx"], s["proto_layer"]))
                if q is None:
                    t.cmp("dns", "trans_id", r["trans_id"], s["id"], r["response_frame"])
                    if r["queries"] == 0:
                        t.cmp("dns", "query", r["query"], s["qname"], r["response_frame"])
                        t.cmp("dns", "qtype", r["qtype"], s["qtype"], r["response_frame"])
                t.cmp("dns", "rcode", r["rcode"], s["rcode"], r["response_frame"])
                for fl in ("AA", "TC", "RD", "RA"):
                    t.cmp("dns", "flags", r[fl], s[fl], r["response_frame"], cls="dns.flags differ",
                          extra={"flag": fl})
                ta = s["answers"][:32]
                t.cmp("dns", "answers(all types)", r["answers"], ta, r["response_frame"],
                      extra={"query": r["query"], "tshark_count": s["n_answers"]})
                keep = lambda xs: [x for x in xs if not x.startswith("<")]
                t.cmp("dns", "answers(A/AAAA/CNAME/NS/PTR/MX)", keep(r["answers"]), keep(ta),
                      r["response_frame"], cls="dns.answers(addr/name) differs",
                      extra={"query": r["query"]})
                t.cmp("dns", "TTLs", r["TTLs"], s["ttls"][:32], r["response_frame"])
                # pairing and rtt
                if r["queries"] > 0:
                    t.cmp("dns", "pairing(response.response_to)", r["frame"], s["response_to"],
                          r["response_frame"], extra={"query": r["query"], "queries": r["queries"],
                                                      "responses": r["responses"]})
                    if s["time"] is not None:
                        t.cmp("dns", "rtt vs dns.time", r["rtt"], s["time"], r["response_frame"],
                              eq=close, extra={"query_frame": r["frame"],
                                               "tshark_response_to": s["response_to"]})
                    else:
                        t.ex("dns: tshark has no dns.time for a tcpaudit-answered query",
                             r["response_frame"], {"tcpaudit_rtt": r["rtt"], "query_frame": r["frame"]})
                else:
                    t.cmp("dns", "no_query agrees (tshark response_to absent)", None, s["response_to"],
                          r["response_frame"], extra={"query": r["query"]})
    # what tshark has that tcpaudit did not use
    folded = collections.defaultdict(list)
    for r in recs:
        if r["queries"] > 1:
            folded[(r["trans_id"], r["query"])].append(r["frame"])
    for frame, ms in q_by.items():
        for m in ms:
            if (m["frame"], m["idx"], m["proto_layer"]) in used_q:
                continue
            t.counts["dns.tshark_queries_unmatched"] += 1
            cls = "dns: tshark query not a tcpaudit record frame"
            if "icmp" in t.finfo.get(frame, (0, 0, 0, ""))[3]:
                cls += " (quoted inside an ICMP error)"
            elif any(f < frame for f in folded.get((m["id"], m["qname"]), [])):
                cls += " (repeat folded into an earlier tcpaudit record's `queries`)"
            elif m["retransmission"]:
                cls += " (tshark: retransmission)"
            t.ex(cls, frame, {"tshark": {k: m[k] for k in ("qname", "id", "response_in", "proto_layer")}})
    for frame, ms in r_by.items():
        for m in ms:
            if (m["frame"], m["idx"], m["proto_layer"]) in used_r:
                continue
            t.counts["dns.tshark_responses_unmatched"] += 1
            cls = "dns: tshark response not a tcpaudit response_frame"
            if "icmp" in t.finfo.get(frame, (0, 0, 0, ""))[3]:
                cls += " (quoted inside an ICMP error)"
            elif m["retransmission"]:
                cls += " (tshark: retransmission)"
            t.ex(cls, frame, {"tshark": {k: m[k] for k in ("qname", "id", "response_to", "proto_layer")}})
    # transaction totals as tshark sees them: one per query that is not a retransmission,
    # plus one per response without a query
    t.counts["dns.tshark_transactions"] += sum(1 for m in tsh if not m["response"] and not m["retransmission"])
    t.counts["dns.tshark_transactions"] += sum(1 for m in tsh if m["response"] and m["response_to"] is None
                                               and not m["retransmission"])


# ---------------------------------------------------------------- HTTP

def cookie_pairs(headers):
    out = []
    for h in headers:
        for p in h.split(";"):
            p = p.strip()
            if "=" in p:
                out.append((p.split("=", 1)[0].strip(), len(p), p.split("=", 1)[1].strip()))
    return out


def set_cookie_pairs(headers):
    out = []
    for h in headers:
        p = h.split(";")[0].strip()
        if "=" in p:
            out.append((p.split("=", 1)[0].strip(), len(p), p.split("=", 1)[1].strip()))
    return out


def compare_http(t, recs, tsh):
    reqs = collections.defaultdict(list)
    resps = collections.defaultdict(list)
    for m in tsh:
        (reqs if m["kind"] == "req" else resps)[m["frame"]].append(m)
    used = set()
    hash_vals = collections.defaultdict(set)
    val_hashes = collections.defaultdict(set)

    def take(by, frame, pred=lambda m: True):
        for m in by.get(frame, []):
            k = (m["frame"], m["idx"])
            if k not in used and pred(m):
                used.add(k)
                return m
        return None

    for r in sorted(recs, key=lambda r: (r["conn_id"], r["trans_depth"])):
        t.counts["http.tcpaudit_records"] += 1
        q = s = None
        if r["method"] is not None:
            fe = r["request_end"]["frame"] if r["request_end"] else r["frame"]
            q = take(reqs, fe, lambda m: m["uri"] == r["uri"]) or take(reqs, fe)
            how = "request_end.frame"
            if q is None:
                q = take(reqs, r["frame"])
                how = "frame (first)"
                if q is not None:
                    t.ex("http: tshark shows request at tcpaudit's first frame, not request_end", fe,
                         {"first_frame": r["frame"], "uri": r["uri"]})
            if q is None:
                t.counts["http.request_missing_in_tshark"] += 1
                t.ex("http: tcpaudit request has no tshark request" +
                     ("" if r["resp_port"] in (80, 8080, 3128, 8000, 8088) else " (non-HTTP port)"), r["frame"],
                     {"request_end": fe, "method": r["method"], "uri": r["uri"],
                      "ports": (r["orig_port"], r["resp_port"])})
            else:
                t.counts["http.request_matched_by_" + how] += 1
                for fld, tf in (("method", "method"), ("uri", "uri"), ("host", "host"),
                                ("version", "version"), ("user_agent", "user_agent"),
                                ("referrer", "referrer")):
                    t.cmp("http", fld, r[fld], q[tf], fe)
                tc = cookie_pairs(q["cookie_headers"])
                t.cmp("http", "cookies(name,size)", [(c["name"], c["size"]) for c in r["cookies"]],
                      [(n, sz) for n, sz, _ in tc], fe)
                if len(tc) == len(r["cookies"]):
                    for c, (_, _, v) in zip(r["cookies"], tc):
                        hash_vals[c["value_hash"]].add(v)
                        val_hashes[v].add(c["value_hash"])
                if q["content_length"] is not None:
                    t.cmp("http", "request_body_len vs Content-Length", r["request_body_len"],
                          q["content_length"], fe)
        if r["status_code"] is not None:
            fe = r["response_end"]["frame"] if r["response_end"] else None
            code_ok = lambda m: m["code"] == r["status_code"]
            s = take(resps, fe, code_ok) if fe else None
            how = "response_end.frame"
            if s is None and r["response_start"]:
                s = take(resps, r["response_start"]["frame"], code_ok)
                how = "response_start.frame"
            if s is None and r["request_end"]:
                # tshark's own pairing: the response whose request_in is this request
                rq = r["request_end"]["frame"]
                for fr in sorted(resps):
                    s = take(resps, fr, lambda m: code_ok(m) and m["request_in"] == rq)
                    if s:
                        break
                how = "tshark request_in"
            if s is None:
                t.counts["http.response_missing_in_tshark"] += 1
                cls = "http: tcpaudit response has no tshark response"
                if fe is None:
                    cls += " (response_end null: body incomplete in the capture)"
                t.ex(cls, fe or (r["response_start"] or {}).get("frame"),
                     {"response_start": r["response_start"], "code": r["status_code"],
                      "uri": r["uri"], "response_body_len": r["response_body_len"]})
            else:
                t.counts["http.response_matched_by_" + how] += 1
                if how != "response_end.frame":
                    st, fin, tlen, _ = t.finfo.get(s["frame"], (None, False, 0, ""))
                    if fin and tlen == 0 and fe is not None and s["frame"] > fe:
                        cls = "http: tshark shows a close-delimited response at the FIN, tcpaudit's response_end is its last data frame"
                    else:
                        cls = "http: tshark response frame != tcpaudit response_end.frame (matched by %s)" % how
                    t.ex(cls, s["frame"], {"response_end": fe, "code": r["status_code"], "uri": r["uri"],
                                           "response_body_len": r["response_body_len"]})
                t.cmp("http", "status_code", r["status_code"], s["code"], s["frame"])
                t.cmp("http", "status_msg", r["status_msg"] or None, s["phrase"] or None, s["frame"])
                tc = set_cookie_pairs(s["set_cookie_headers"])
                t.cmp("http", "set_cookies(name,size)", [(c["name"], c["size"]) for c in r["set_cookies"]],
                      [(n, sz) for n, sz, _ in tc], s["frame"])
                if len(tc) == len(r["set_cookies"]):
                    for c, (_, _, v) in zip(r["set_cookies"], tc):
                        hash_vals[c["value_hash"]].add(v)
                        val_hashes[v].add(c["value_hash"])
                bodiless = r["method"] == "HEAD" or r["status_code"] in (204, 304)
                if not bodiless:
                    if s["content_length"] is not None:
                        t.cmp("http", "response_body_len vs Content-Length", r["response_body_len"],
                              s["content_length"], s["frame"], extra={"uri": r["uri"]})
                    elif s["chunked_len"] is not None:
                        t.cmp("http", "response_body_len vs sum of chunk sizes (chunked)",
                              r["response_body_len"], s["chunked_len"], s["frame"], extra={"uri": r["uri"]})
                if r["request_end"] is not None:
                    t.cmp("http", "pairing(tshark response.request_in == request_end.frame)",
                          r["request_end"]["frame"], s["request_in"], s["frame"],
                          extra={"uri": r["uri"], "first_frame": r["frame"]})
                if q is not None:
                    t.cmp("http", "pairing(tshark request.response_in == matched response frame)",
                          s["frame"], q["response_in"], q["frame"],
                          extra={"uri": r["uri"], "code": r["status_code"], "response_end": fe})
                if s["time"] is not None and r["request_end"] and s["request_in"] == r["request_end"]["frame"]:
                    if how == "response_end.frame":
                        mine = round(r["response_end"]["ts"] - r["request_end"]["ts"], 6)
                        t.cmp("http", "http.time vs response_end.ts-request_end.ts", mine, s["time"],
                              s["frame"], eq=close, extra={"ttfb": r["ttfb"], "uri": r["uri"]})
                    if r["ttfb"] is not None:
                        t.counts["http.time_equals_ttfb" if close(r["ttfb"], s["time"])
                                 else "http.time_differs_from_ttfb"] += 1
        elif q is not None and q["response_in"] is not None:
            t.ex("http: tshark has a response for a request tcpaudit left unanswered", q["frame"],
                 {"uri": r["uri"], "tshark_response_in": q["response_in"]})
    for h, vs in hash_vals.items():
        if len(vs) > 1:
            t.ex("http: one cookie value_hash for different values", None, {"hash": h, "values": sorted(vs)[:3]})
    for v, hs in val_hashes.items():
        t.counts["http.cookie_values_checked"] += 1
        if len(hs) > 1:
            t.ex("http: one cookie value with different value_hashes", None, {"hashes": sorted(hs)[:3]})
    for by, name in ((reqs, "request"), (resps, "response")):
        for frame, ms in by.items():
            for m in ms:
                if (m["frame"], m["idx"]) in used:
                    continue
                t.counts["http.tshark_%ss_unmatched" % name] += 1
                cls = "http: tshark %s not matched by tcpaudit" % name
                if name == "response" and 100 <= m["code"] < 200:
                    cls += " (1xx interim)"
                elif why(t, frame):
                    cls += " (%s)" % ", ".join(why(t, frame))
                t.ex(cls, frame, {k: m.get(k) for k in ("method", "uri", "code", "request_in", "response_in")
                                  if m.get(k) is not None})
    t.counts["http.tshark_requests"] += sum(1 for m in tsh if m["kind"] == "req")
    t.counts["http.tshark_responses"] += sum(1 for m in tsh if m["kind"] == "resp")


# ---------------------------------------------------------------- TLS

def compare_tls(t, recs, tsh):
    ch = collections.defaultdict(list)
    sh = collections.defaultdict(list)
    for m in tsh:
        (ch if m["kind"] == "ch" else sh)[m["frame"]].append(m)
    used = set()
    for r in recs:
        t.counts["tls.tcpaudit_records"] += 1
        c = next((m for m in ch.get(r["frame"], []) if id(m) not in used), None)
        if c is None and not r["client_versions"] and r["server_hello"] and \
                r["server_hello"]["frame"] == r["frame"]:
            t.counts["tls.tcpaudit_records_without_clienthello (server side only)"] += 1
        elif c is None:
            t.counts["tls.clienthello_missing_in_tshark"] += 1
            t.ex("tls: tcpaudit ClientHello frame has no tshark ClientHello" +
                 ("" if "tls" in t.finfo.get(r["frame"], (0, 0, 0, "tls"))[3]
                  else " (tshark does not dissect TLS on this port)"), r["frame"],
                 {"server_name": r["server_name"], "ports": (r["orig_port"], r["resp_port"])})
        else:
            used.add(id(c))
            t.cmp("tls", "server_name", r["server_name"], c["server_name"], r["frame"])
            t.cmp("tls", "client_versions", r["client_versions"], c["client_versions"], r["frame"])
            t.cmp("tls", "client_alpn", r["client_alpn"], c["client_alpn"], r["frame"])
        if r["server_hello"]:
            fr = r["server_hello"]["frame"]
            s = next((m for m in sh.get(fr, []) if id(m) not in used), None)
            if s is None:
                t.counts["tls.serverhello_missing_in_tshark"] += 1
                t.ex("tls: tcpaudit ServerHello frame has no tshark ServerHello", fr,
                     {"cipher": r["cipher"]})
            else:
                used.add(id(s))
                t.cmp("tls", "version", r["version"], s["version"], fr)
                t.cmp("tls", "cipher", r["cipher"], s["cipher"], fr)
                t.cmp("tls", "next_protocol(ALPN chosen)", r["next_protocol"], s["alpn"], fr)
    for by, name in ((ch, "ClientHello"), (sh, "ServerHello")):
        for frame, ms in by.items():
            for m in ms:
                if id(m) in used:
                    continue
                t.counts["tls.tshark_%s_unmatched" % name] += 1
                t.ex("tls: tshark %s not matched by tcpaudit" % name, frame,
                     {k: m.get(k) for k in ("server_name", "cipher", "version")})
    t.counts["tls.tshark_clienthellos"] += sum(1 for m in tsh if m["kind"] == "ch")
    t.counts["tls.tshark_serverhellos"] += sum(1 for m in tsh if m["kind"] == "sh")


# ---------------------------------------------------------------- driver

def one(job):
    binpath, path = job
    t = Tally(path)
    p = subprocess.run([binpath, "analyze", "--app", "-f", "json", path], capture_output=True, text=True)
    recs = collections.defaultdict(list)
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            o = json.loads(line)
            recs[o.get("type")].append(o)
    if p.returncode not in (0, 1, 2):
        t.counts["tcpaudit_failed"] += 1
    pkts, err = run_tshark(path)
    if err:
        t.counts["tshark_stderr"] += 1
    dns, http, tls = extract(pkts)
    t.finfo = frame_info(path) if (dns or http or tls) else {}
    if recs["dns"] or dns:
        t.counts["files.dns"] += 1
        compare_dns(t, recs["dns"], dns)
    if recs["http"] or http:
        t.counts["files.http"] += 1
        compare_http(t, recs["http"], http)
    if recs["tls"] or tls:
        t.counts["files.tls"] += 1
        compare_tls(t, recs["tls"], tls)
    return path, dict(t.fields), dict(t.counts), dict(t.examples)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("files", nargs="*")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--details", help="write all counters and examples to this JSON file")
    ap.add_argument("--only", help="only captures whose path contains this")
    ap.add_argument("--examples", type=int, default=5)
    a = ap.parse_args()
    files = captures(a.files)
    if a.only:
        files = [f for f in files if a.only in f]
    cipher_names()
    fields = collections.defaultdict(lambda: [0, 0])
    counts = collections.Counter()
    examples = collections.defaultdict(list)
    with Pool(a.jobs) as pool:
        for path, fl, cn, ex in pool.imap_unordered(one, [(a.bin, f) for f in files]):
            for k, (s, d) in fl.items():
                fields[k][0] += s
                fields[k][1] += d
            counts.update(cn)
            for k, v in ex.items():
                examples[k].extend(v)
    print("tcpaudit: %s analyze --app -f json FILE" % a.bin)
    print("tshark:   tshark -r FILE %s" % " ".join(x if " " not in x else "'%s'" % x for x in TSHARK[1:]))
    print("captures: %d  (with DNS: %d, HTTP: %d, TLS: %d)" % (
        len(files), counts["files.dns"], counts["files.http"], counts["files.tls"]))
    print()
    print("%-5s %-52s %9s %9s %9s %8s" % ("proto", "field", "compared", "identical", "differing", "agree%"))
    for (proto, fld) in sorted(fields, key=lambda k: ({"dns": 0, "http": 1, "tls": 2}[k[0]], k[1])):
        s, d = fields[(proto, fld)]
        print("%-5s %-52s %9d %9d %9d %7.2f%%" % (proto, fld, s + d, s, d, 100.0 * s / (s + d)))
    print()
    print("counters:")
    for k in sorted(counts):
        if not k.startswith("class:"):
            print("  %-60s %d" % (k, counts[k]))
    print()
    print("disagreement classes (count; up to %d examples):" % a.examples)
    for k in sorted((k for k in counts if k.startswith("class:")), key=lambda k: -counts[k]):
        cls = k[6:]
        print("  [%d] %s" % (counts[k], cls))
        exs = sorted(examples[cls], key=lambda e: (e["file"], e["frame"] or 0))[:a.examples]
        for e in exs:
            rest = {x: y for x, y in e.items() if x not in ("file", "frame")}
            print("      %s #%s %s" % (e["file"].replace(ROOTS[0] + "/", "").replace(REPO + "/", "main:"),
                                      e["frame"], json.dumps(rest, default=str)[:300]))
    if a.details:
        with open(a.details, "w") as f:
            json.dump({"fields": {"%s.%s" % k: v for k, v in fields.items()}, "counts": counts,
                       "examples": examples}, f, indent=1, default=str)


if __name__ == "__main__":
    main()
