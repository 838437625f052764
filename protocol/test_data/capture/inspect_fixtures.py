#!/usr/bin/env python3
"""Decode and check every fixture in protocol/test_data/valid/.

For each file: the request header's api key and version must match the file
name, the body must decode with the schema below and leave no trailing bytes,
and every Produce record batch must have magic 2, a correct CRC-32C, and
records that decode after decompression.  Prints one line per file (or the
whole decoded tree with -v) and exits non-zero on any failure.

Usage: python3 inspect_fixtures.py [-v] [FILE...]
Needs the venv from capture.sh for snappy/lz4/zstd decompression
(gzip is in the standard library).
"""

import gzip
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VALID = os.path.join(os.path.dirname(HERE), "valid")

API_KEYS = {
    "produce": 0, "fetch": 1, "list_offsets": 2, "metadata": 3, "offset_commit": 8,
    "offset_fetch": 9, "find_coordinator": 10, "join_group": 11, "heartbeat": 12,
    "leave_group": 13, "sync_group": 14, "describe_groups": 15, "list_groups": 16,
    "api_versions": 18, "create_topics": 19, "delete_topics": 20, "init_producer_id": 22,
    "offset_for_leader_epoch": 23, "describe_configs": 32,
}

# Body schemas for the (api, version) pairs the fixtures use.
# A field is (name, type); types: i8 i16 i32 i64 bool str nstr bytes nbytes
# records cstr tags, ("array", fields) / ("narray", fields) for arrays of
# structs, ("array", "i32") / ("array", "str") for arrays of primitives.
S = {}
S[("api_versions", 3)] = S[("api_versions", 4)] = [
    ("client_software_name", "cstr"), ("client_software_version", "cstr"), ("_tags", "tags")]
for v in range(0, 5):
    S[("metadata", v)] = ([("topics", ("array" if v == 0 else "narray", [("name", "str")]))]
                          + ([("allow_auto_topic_creation", "bool")] if v >= 4 else []))
for v in range(3, 8):
    S[("produce", v)] = [
        ("transactional_id", "nstr"), ("acks", "i16"), ("timeout_ms", "i32"),
        ("topics", ("array", [("name", "str"), ("partitions", ("array", [
            ("index", "i32"), ("records", "records")]))]))]
for v in range(4, 11):
    part = [("partition", "i32")]
    if v >= 9:
        part.append(("current_leader_epoch", "i32"))
    part.append(("fetch_offset", "i64"))
    if v >= 5:
        part.append(("log_start_offset", "i64"))
    part.append(("partition_max_bytes", "i32"))
    f = [("replica_id", "i32"), ("max_wait_ms", "i32"), ("min_bytes", "i32"), ("max_bytes", "i32"),
         ("isolation_level", "i8")]
    if v >= 7:
        f += [("session_id", "i32"), ("session_epoch", "i32")]
    f.append(("topics", ("array", [("topic", "str"), ("partitions", ("array", part))])))
    if v >= 7:
        f.append(("forgotten_topics", ("array", [("topic", "str"), ("partitions", ("array", "i32"))])))
    S[("fetch", v)] = f
for v in (1, 2):
    S[("list_offsets", v)] = ([("replica_id", "i32")] + ([("isolation_level", "i8")] if v >= 2 else [])
                              + [("topics", ("array", [("name", "str"), ("partitions", ("array", [
                                  ("partition", "i32"), ("timestamp", "i64")]))]))])
for v in range(2, 6):
    S[("offset_commit", v)] = ([("group_id", "str"), ("generation_id", "i32"), ("member_id", "str")]
                               + ([("retention_time_ms", "i64")] if v <= 4 else [])
                               + [("topics", ("array", [("name", "str"), ("partitions", ("array", [
                                   ("index", "i32"), ("committed_offset", "i64"),
                                   ("metadata", "nstr")]))]))])
for v in range(1, 5):
    S[("offset_fetch", v)] = [("group_id", "str"), ("topics", ("narray", [
        ("name", "str"), ("partitions", ("array", "i32"))]))]
for v in range(0, 3):
    S[("find_coordinator", v)] = [("key", "str")] + ([("key_type", "i8")] if v >= 1 else [])
for v in range(0, 4):
    S[("join_group", v)] = ([("group_id", "str"), ("session_timeout_ms", "i32")]
                            + ([("rebalance_timeout_ms", "i32")] if v >= 1 else [])
                            + [("member_id", "str"), ("protocol_type", "str"),
                               ("protocols", ("array", [("name", "str"), ("metadata", "bytes")]))])
for v in range(0, 3):
    S[("heartbeat", v)] = [("group_id", "str"), ("generation_id", "i32"), ("member_id", "str")]
    S[("sync_group", v)] = [("group_id", "str"), ("generation_id", "i32"), ("member_id", "str"),
                            ("assignments", ("array", [("member_id", "str"), ("assignment", "bytes")]))]
    S[("describe_groups", v)] = [("groups", ("array", "str"))]
    S[("list_groups", v)] = []
for v in (0, 1):
    S[("leave_group", v)] = [("group_id", "str"), ("member_id", "str")]
    S[("init_producer_id", v)] = [("transactional_id", "nstr"), ("transaction_timeout_ms", "i32")]
for v in (2, 3):
    S[("create_topics", v)] = [
        ("topics", ("array", [("name", "str"), ("num_partitions", "i32"), ("replication_factor", "i16"),
                              ("assignments", ("array", [("partition_index", "i32"),
                                                         ("broker_ids", ("array", "i32"))])),
                              ("configs", ("array", [("name", "str"), ("value", "nstr")]))])),
        ("timeout_ms", "i32"), ("validate_only", "bool")]
    S[("offset_for_leader_epoch", v)] = (([("replica_id", "i32")] if v >= 3 else [])
                                         + [("topics", ("array", [("topic", "str"), ("partitions", ("array", [
                                             ("partition", "i32"), ("current_leader_epoch", "i32"),
                                             ("leader_epoch", "i32")]))]))])
S[("delete_topics", 1)] = [("topic_names", ("array", "str")), ("timeout_ms", "i32")]
S[("describe_configs", 1)] = [("resources", ("array", [("resource_type", "i8"), ("resource_name", "str"),
                                                        ("configuration_keys", ("narray", "str"))])),
                              ("include_synonyms", "bool")]

FLEXIBLE_FROM = {"api_versions": 3}


class R:
    def __init__(self, b, pos=0):
        self.b, self.pos = b, pos

    def take(self, n):
        if self.pos + n > len(self.b):
            raise ValueError("truncated at %d (+%d > %d)" % (self.pos, n, len(self.b)))
        out = self.b[self.pos:self.pos + n]
        self.pos += n
        return out

    def u(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def uvarint(self):
        shift = value = 0
        while True:
            b = self.take(1)[0]
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7

    def varint(self):
        v = self.uvarint()
        return (v >> 1) ^ -(v & 1)


def read(r, t):
    if isinstance(t, tuple):
        kind, inner = t
        n = r.u(">i")
        if n < 0:
            if kind != "narray":
                raise ValueError("null non-nullable array")
            return None
        if isinstance(inner, str):
            return [read(r, inner) for _ in range(n)]
        return [read_struct(r, inner) for _ in range(n)]
    if t == "i8": return r.u(">b")
    if t == "i16": return r.u(">h")
    if t == "i32": return r.u(">i")
    if t == "i64": return r.u(">q")
    if t == "bool":
        v = r.u(">b")
        if v not in (0, 1):
            raise ValueError("bad boolean %d" % v)
        return bool(v)
    if t in ("str", "nstr"):
        n = r.u(">h")
        if n < 0:
            if t == "str":
                raise ValueError("null non-nullable string")
            return None
        return r.take(n).decode("utf-8")
    if t in ("bytes", "nbytes", "records"):
        n = r.u(">i")
        if n < 0:
            return None
        data = r.take(n)
        return decode_records(data) if t == "records" else data
    if t == "cstr":
        n = r.uvarint() - 1
        return None if n < 0 else r.take(n).decode("utf-8")
    if t == "tags":
        tags = {}
        for _ in range(r.uvarint()):
            tag = r.uvarint()
            tags[tag] = r.take(r.uvarint())
        return tags
    raise ValueError("unknown type " + t)


def read_struct(r, fields):
    return {name: read(r, t) for name, t in fields}


# ---------------------------------------------------------------------------
# Record batches (magic 2)

def _crc32c_table():
    tbl = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        tbl.append(c)
    return tbl


CRC_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


def decompress(codec, data):
    if codec == 0:
        return data
    if codec == 1:
        return gzip.decompress(data)
    if codec == 2:
        import snappy
        if data.startswith(b"\x82SNAPPY\x00"):
            # Xerial framing (Java snappy-java), used by kafka-python.
            r, out = R(data, 16), b""
            while r.pos < len(data):
                out += snappy.decompress(r.take(r.u(">i")))
            return out
        return snappy.decompress(data)
    if codec == 3:
        import lz4.frame
        return lz4.frame.decompress(data)
    if codec == 4:
        import zstandard
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    raise ValueError("codec %d" % codec)


def decode_records(data):
    batches = []
    r = R(data)
    while r.pos < len(data):
        start = r.pos
        b = {"base_offset": r.u(">q")}
        length = r.u(">i")
        end = r.pos + length
        b["partition_leader_epoch"] = r.u(">i")
        b["magic"] = r.u(">b")
        if b["magic"] != 2:
            raise ValueError("magic %d" % b["magic"])
        crc = r.u(">I")
        if crc32c(data[r.pos:end]) != crc:
            raise ValueError("bad CRC-32C")
        attrs = r.u(">h")
        b["attributes"] = attrs
        b["compression"] = CODECS[attrs & 7]
        b["timestamp_type"] = (attrs >> 3) & 1
        b["transactional"] = bool(attrs & 0x10)
        b["control"] = bool(attrs & 0x20)
        b["last_offset_delta"] = r.u(">i")
        b["base_timestamp"] = r.u(">q")
        b["max_timestamp"] = r.u(">q")
        b["producer_id"] = r.u(">q")
        b["producer_epoch"] = r.u(">h")
        b["base_sequence"] = r.u(">i")
        count = r.u(">i")
        payload = decompress(attrs & 7, r.take(end - r.pos))
        rr = R(payload)
        recs = []
        for _ in range(count):
            ln = rr.varint()
            rend = rr.pos + ln
            rec = {"attributes": rr.take(1)[0], "timestamp_delta": rr.varint(),
                   "offset_delta": rr.varint()}
            kl = rr.varint()
            rec["key"] = None if kl < 0 else rr.take(kl)
            vl = rr.varint()
            rec["value"] = None if vl < 0 else rr.take(vl)
            hs = []
            for _ in range(rr.varint()):
                hk = rr.take(rr.varint()).decode()
                hl = rr.varint()
                hs.append((hk, None if hl < 0 else rr.take(hl)))
            rec["headers"] = hs
            if rr.pos != rend:
                raise ValueError("record length mismatch")
            recs.append(rec)
        if rr.pos != len(payload):
            raise ValueError("trailing bytes after %d records" % count)
        b["records"] = recs
        b["_size"] = end - start
        batches.append(b)
    return batches


NAME_RE = re.compile(r"^(?P<api>[a-z_]+)_v(?P<ver>\d+)_(?P<client>kcat|confluent|kafkapython)_(?P<case>[a-z0-9-]+)\.bin$")


def inspect(path, verbose=False):
    name = os.path.basename(path)
    m = NAME_RE.match(name)
    if not m:
        raise ValueError("file name does not follow <api>_v<N>_<client>_<case>.bin")
    api, ver = m.group("api"), int(m.group("ver"))
    data = open(path, "rb").read()
    r = R(data)
    key, version, corr = r.u(">h"), r.u(">h"), r.u(">i")
    if key != API_KEYS[api] or version != ver:
        raise ValueError("header says key %d v%d" % (key, version))
    client_id = read(r, "nstr")
    hdr_tags = read(r, "tags") if ver >= FLEXIBLE_FROM.get(api, 99) else None
    schema = S.get((api, ver))
    if schema is None:
        raise ValueError("no schema for %s v%d" % (api, ver))
    body = read_struct(r, schema)
    if r.pos != len(data):
        raise ValueError("%d trailing bytes" % (len(data) - r.pos))
    summary = "corr=%d client_id=%r" % (corr, client_id)
    if hdr_tags:
        summary += " header_tags=%r" % hdr_tags
    if api == "produce":
        bs = [b for t in body["topics"] for p in t["partitions"] for b in (p["records"] or [])]
        summary += " acks=%d txn=%r batches=%d codecs=%s records=%d pid=%s" % (
            body["acks"], body["transactional_id"], len(bs),
            ",".join(sorted({b["compression"] for b in bs})),
            sum(len(b["records"]) for b in bs), sorted({(b["producer_id"], b["producer_epoch"], b["base_sequence"]) for b in bs}))
    print("OK   %-60s %s" % (name, summary))
    if verbose:
        import pprint
        pprint.pprint(body, width=120)
    return True


def main():
    args = [a for a in sys.argv[1:] if a != "-v"]
    verbose = "-v" in sys.argv
    files = args or sorted(os.path.join(VALID, f) for f in os.listdir(VALID) if f.endswith(".bin"))
    bad = 0
    for f in files:
        try:
            inspect(f, verbose)
        except Exception as e:  # noqa: BLE001
            bad += 1
            print("FAIL %-60s %s" % (os.path.basename(f), e))
    print("%d passed, %d failed" % (len(files) - bad, bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
