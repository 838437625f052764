#!/usr/bin/env python3
"""Minimal fake Kafka broker used to capture real client request bytes.

It listens on 127.0.0.1 only, answers just enough of the Kafka protocol for
kcat (librdkafka), confluent-kafka (librdkafka) and kafka-python to make
progress, and writes EVERY request frame it receives (the bytes after the
4-byte size prefix: request header + body) to a file under
<raw-dir>/<label>/.

All responses are struct-packed by hand (big-endian), for the exact version
that the client used.  Only non-flexible versions are implemented, except for
ApiVersions v3/v4 whose body is flexible (the response header is always v0).

A control socket (127.0.0.1:<control-port>) accepts one line per connection:
  LABEL <name>   wait (bounded) until no client connection is open, then
                 store frames received from now on under <raw-dir>/<name>/
  STOP           shut the broker down
and answers "OK <detail>\n".

Usage: fake_broker.py --port 19092 --control-port 19093 --raw-dir /tmp/raw
"""

import argparse
import json
import os
import socket
import socketserver
import struct
import sys
import threading
import time
import uuid

# ---------------------------------------------------------------------------
# Advertised ApiVersions table: api_key -> (min, max).  Do not change: clients
# pick versions from this table and the fixtures must match kzero's versions.
ADVERTISED = [
    (0, 0, 7),    # Produce
    (1, 4, 10),   # Fetch
    (2, 1, 2),    # ListOffsets
    (3, 0, 4),    # Metadata
    (8, 2, 5),    # OffsetCommit
    (9, 1, 4),    # OffsetFetch
    (10, 0, 2),   # FindCoordinator
    (11, 0, 3),   # JoinGroup
    (12, 0, 2),   # Heartbeat
    (13, 0, 1),   # LeaveGroup
    (14, 0, 2),   # SyncGroup
    (15, 0, 2),   # DescribeGroups
    (16, 0, 2),   # ListGroups
    (18, 0, 4),   # ApiVersions
    (19, 2, 3),   # CreateTopics
    (20, 1, 1),   # DeleteTopics
    (22, 0, 1),   # InitProducerId
    (23, 2, 3),   # OffsetForLeaderEpoch
    (32, 1, 1),   # DescribeConfigs
]
ADVERTISED_MAP = {k: (lo, hi) for k, lo, hi in ADVERTISED}

API_NAMES = {
    0: "produce", 1: "fetch", 2: "list_offsets", 3: "metadata",
    8: "offset_commit", 9: "offset_fetch", 10: "find_coordinator",
    11: "join_group", 12: "heartbeat", 13: "leave_group", 14: "sync_group",
    15: "describe_groups", 16: "list_groups", 17: "sasl_handshake",
    18: "api_versions", 19: "create_topics", 20: "delete_topics",
    22: "init_producer_id", 23: "offset_for_leader_epoch",
    32: "describe_configs", 36: "sasl_authenticate", 60: "describe_cluster",
    68: "consumer_group_heartbeat", 69: "consumer_group_describe",
    71: "get_telemetry_subscriptions", 72: "push_telemetry",
}

NODE_ID = 1
CLUSTER_ID = "kzero-fake-cluster"

# Error codes used.
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
UNSUPPORTED_VERSION = 35


def log(msg):
    sys.stderr.write("[fake_broker %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# ---------------------------------------------------------------------------
# Encoding / decoding helpers

class Reader:
    def __init__(self, buf, pos=0):
        self.buf = buf
        self.pos = pos

    def _unpack(self, fmt, n):
        v = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += n
        return v

    def i8(self): return self._unpack(">b", 1)
    def i16(self): return self._unpack(">h", 2)
    def i32(self): return self._unpack(">i", 4)
    def i64(self): return self._unpack(">q", 8)
    def boolean(self): return self.i8() != 0

    def string(self):
        n = self.i16()
        if n < 0:
            return None
        s = self.buf[self.pos:self.pos + n].decode("utf-8", "replace")
        self.pos += n
        return s

    def bytes_(self):
        n = self.i32()
        if n < 0:
            return None
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def array(self, fn):
        n = self.i32()
        if n < 0:
            return None
        return [fn() for _ in range(n)]

    def uvarint(self):
        shift = 0
        value = 0
        while True:
            b = self.buf[self.pos]
            self.pos += 1
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")

    def compact_string(self):
        n = self.uvarint() - 1
        if n < 0:
            return None
        s = self.buf[self.pos:self.pos + n].decode("utf-8", "replace")
        self.pos += n
        return s

    def tag_buffer(self):
        for _ in range(self.uvarint()):
            self.uvarint()  # tag
            size = self.uvarint()
            self.pos += size


def i8(v): return struct.pack(">b", v)
def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)
def i64(v): return struct.pack(">q", v)
def boolean(v): return b"\x01" if v else b"\x00"


def string(s):
    if s is None:
        return i16(-1)
    b = s.encode("utf-8")
    return i16(len(b)) + b


def bytes_(b):
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


def array(items, fn):
    if items is None:
        return i32(-1)
    return i32(len(items)) + b"".join(fn(x) for x in items)


def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def compact_array(items, fn):
    if items is None:
        return b"\x00"
    return uvarint(len(items) + 1) + b"".join(fn(x) for x in items)


# ---------------------------------------------------------------------------
# Broker state (in memory, shared by all connections)

class State:
    def __init__(self, host, port, default_partitions):
        self.lock = threading.RLock()
        self.host = host
        self.port = port
        self.default_partitions = default_partitions
        self.topics = {}          # name -> partition count
        self.logs = {}            # (topic, partition) -> list of batches
        self.next_offset = {}     # (topic, partition) -> int
        self.groups = {}          # group id -> dict
        self.committed = {}       # (group, topic, partition) -> (offset, metadata)
        self.next_producer_id = 1000

    def ensure_topic(self, name, partitions=None):
        with self.lock:
            if name not in self.topics:
                self.topics[name] = partitions or self.default_partitions
            return self.topics[name]

    def append(self, topic, partition, records):
        """Store a produced record set; return its base offset."""
        with self.lock:
            key = (topic, partition)
            base = self.next_offset.get(key, 0)
            off = base
            data = bytearray(records or b"")
            pos = 0
            batches = self.logs.setdefault(key, [])
            while pos + 61 <= len(data):
                batch_len = struct.unpack_from(">i", data, pos + 8)[0]
                end = pos + 12 + batch_len
                if end > len(data) or batch_len <= 0:
                    break
                magic = data[pos + 16]
                if magic != 2:
                    # Legacy message set: store as is, count one message.
                    struct.pack_into(">q", data, pos, off)
                    batches.append((off, off, -1, bytes(data[pos:end])))
                    off += 1
                    pos = end
                    continue
                last_delta = struct.unpack_from(">i", data, pos + 23)[0]
                max_ts = struct.unpack_from(">q", data, pos + 35)[0]
                struct.pack_into(">q", data, pos, off)  # not covered by CRC
                # Stamp the partition leader epoch (0) like a real leader does;
                # it is not covered by the CRC either.
                struct.pack_into(">i", data, pos + 12, 0)
                batches.append((off, off + last_delta, max_ts, bytes(data[pos:end])))
                off += last_delta + 1
                pos = end
            self.next_offset[key] = off
            return base

    def read(self, topic, partition, offset, max_bytes):
        with self.lock:
            out = bytearray()
            for base, last, _ts, raw in self.logs.get((topic, partition), []):
                if last < offset:
                    continue
                if out and len(out) + len(raw) > max_bytes:
                    break
                out += raw
            return bytes(out), self.next_offset.get((topic, partition), 0)

    def offset_for_time(self, topic, partition, ts):
        with self.lock:
            hw = self.next_offset.get((topic, partition), 0)
            if ts == -2:
                return -1, 0
            if ts == -1:
                return -1, hw
            for base, _last, max_ts, _raw in self.logs.get((topic, partition), []):
                if max_ts >= ts:
                    return max_ts, base
            return -1, -1


# ---------------------------------------------------------------------------
# Request handlers.  Each takes (state, conn_ctx, version, reader) and returns
# the response BODY bytes, or None for "no response" (acks=0 Produce).

def h_api_versions(st, ctx, v, r):
    if v >= 3:
        body = i16(NONE)
        body += compact_array(ADVERTISED, lambda a: i16(a[0]) + i16(a[1]) + i16(a[2]) + b"\x00")
        body += i32(0)       # throttle_time_ms
        body += b"\x00"      # tagged fields (none)
        return body
    body = i16(NONE) + array(ADVERTISED, lambda a: i16(a[0]) + i16(a[1]) + i16(a[2]))
    if v >= 1:
        body += i32(0)
    return body


def h_metadata(st, ctx, v, r):
    topics = r.array(r.string)
    if v >= 4:
        r.boolean()  # allow_auto_topic_creation
    if topics is None or (v == 0 and len(topics) == 0):
        names = sorted(st.topics)
    else:
        names = topics
        for t in topics:
            st.ensure_topic(t)
    body = b""
    if v >= 3:
        body += i32(0)  # throttle
    broker = i32(NODE_ID) + string(st.host) + i32(st.port)
    if v >= 1:
        broker += string(None)  # rack
    body += i32(1) + broker
    if v >= 2:
        body += string(CLUSTER_ID)
    if v >= 1:
        body += i32(NODE_ID)  # controller id

    def topic(name):
        n = st.topics.get(name)
        if n is None:
            out = i16(UNKNOWN_TOPIC_OR_PARTITION) + string(name)
            if v >= 1:
                out += boolean(False)
            return out + i32(0)
        out = i16(NONE) + string(name)
        if v >= 1:
            out += boolean(name.startswith("__"))
        parts = []
        for p in range(n):
            parts.append(i16(NONE) + i32(p) + i32(NODE_ID) + i32(1) + i32(NODE_ID)
                         + i32(1) + i32(NODE_ID))
        return out + i32(n) + b"".join(parts)

    body += array(names, topic)
    return body


def h_produce(st, ctx, v, r):
    if v >= 3:
        r.string()  # transactional_id
    acks = r.i16()
    r.i32()  # timeout
    topics = r.array(lambda: (r.string(), r.array(lambda: (r.i32(), r.bytes_()))))
    results = []
    for name, parts in topics:
        st.ensure_topic(name)
        pres = []
        for idx, records in parts:
            base = st.append(name, idx, records)
            pres.append((idx, base))
        results.append((name, pres))
    if acks == 0:
        return None

    def part(p):
        out = i32(p[0]) + i16(NONE) + i64(p[1])
        if v >= 2:
            out += i64(-1)  # log_append_time
        if v >= 5:
            out += i64(0)   # log_start_offset
        return out

    body = array(results, lambda t: string(t[0]) + array(t[1], part))
    if v >= 1:
        body += i32(0)
    return body


def h_fetch(st, ctx, v, r):
    r.i32()  # replica_id
    max_wait = r.i32()
    r.i32()  # min_bytes
    max_bytes = r.i32() if v >= 3 else 0x7FFFFFFF
    if v >= 4:
        r.i8()  # isolation_level
    if v >= 7:
        r.i32()  # session_id
        r.i32()  # session_epoch

    def fpart():
        p = r.i32()
        if v >= 9:
            r.i32()  # current_leader_epoch
        off = r.i64()
        if v >= 5:
            r.i64()  # log_start_offset
        pmax = r.i32()
        return (p, off, pmax)

    topics = r.array(lambda: (r.string(), r.array(fpart)))
    if v >= 7:
        r.array(lambda: (r.string(), r.array(r.i32)))  # forgotten topics

    def collect():
        res = []
        total = 0
        for name, parts in topics:
            pres = []
            for p, off, pmax in parts:
                if name not in st.topics or p >= st.topics[name]:
                    pres.append((p, UNKNOWN_TOPIC_OR_PARTITION, -1, b""))
                    continue
                data, hw = st.read(name, p, off, min(pmax, max_bytes))
                total += len(data)
                pres.append((p, NONE, hw, data))
            res.append((name, pres))
        return res, total

    res, total = collect()
    if total == 0 and max_wait > 0:
        # Long poll, bounded, so that idle consumers do not spin.
        time.sleep(min(max_wait, 300) / 1000.0)
        res, total = collect()

    def part(p):
        idx, err, hw, data = p
        out = i32(idx) + i16(err) + i64(hw)
        if v >= 4:
            out += i64(hw)  # last_stable_offset
        if v >= 5:
            out += i64(0)   # log_start_offset
        if v >= 4:
            out += array([], None)  # aborted_transactions: empty
        return out + bytes_(data)

    body = b""
    if v >= 1:
        body += i32(0)
    if v >= 7:
        body += i16(NONE) + i32(0)  # error_code, session_id 0 = no session
    body += array(res, lambda t: string(t[0]) + array(t[1], part))
    return body


def h_list_offsets(st, ctx, v, r):
    r.i32()  # replica_id
    if v >= 2:
        r.i8()  # isolation_level
    topics = r.array(lambda: (r.string(), r.array(lambda: (r.i32(), r.i64()))))

    def part(name, p, ts):
        if name not in st.topics:
            return i32(p) + i16(UNKNOWN_TOPIC_OR_PARTITION) + i64(-1) + i64(-1)
        rts, off = st.offset_for_time(name, p, ts)
        return i32(p) + i16(NONE) + i64(rts) + i64(off)

    body = b""
    if v >= 2:
        body += i32(0)
    body += array(topics, lambda t: string(t[0]) + array(t[1], lambda pp: part(t[0], pp[0], pp[1])))
    return body


def h_offset_commit(st, ctx, v, r):
    group = r.string()
    r.i32()  # generation
    r.string()  # member_id
    if 2 <= v <= 4:
        r.i64()  # retention_time

    def cpart():
        p = r.i32()
        off = r.i64()
        if v >= 6:
            r.i32()
        meta = r.string()
        return (p, off, meta)

    topics = r.array(lambda: (r.string(), r.array(cpart)))
    with st.lock:
        for name, parts in topics:
            for p, off, meta in parts:
                st.committed[(group, name, p)] = (off, meta)
    body = b""
    if v >= 3:
        body += i32(0)
    body += array(topics, lambda t: string(t[0]) + array(t[1], lambda pp: i32(pp[0]) + i16(NONE)))
    return body


def h_offset_fetch(st, ctx, v, r):
    group = r.string()
    topics = r.array(lambda: (r.string(), r.array(r.i32)))
    if topics is None:
        with st.lock:
            byt = {}
            for (g, t, p) in st.committed:
                if g == group:
                    byt.setdefault(t, []).append(p)
            topics = sorted((t, sorted(ps)) for t, ps in byt.items())

    def part(name, p):
        off, meta = st.committed.get((group, name, p), (-1, ""))
        return i32(p) + i64(off) + string(meta) + i16(NONE)

    body = b""
    if v >= 3:
        body += i32(0)
    body += array(topics, lambda t: string(t[0]) + array(t[1], lambda p: part(t[0], p)))
    if v >= 2:
        body += i16(NONE)
    return body


def h_find_coordinator(st, ctx, v, r):
    r.string()  # key
    if v >= 1:
        r.i8()  # key_type
    if v == 0:
        return i16(NONE) + i32(NODE_ID) + string(st.host) + i32(st.port)
    return i32(0) + i16(NONE) + string(None) + i32(NODE_ID) + string(st.host) + i32(st.port)


def _group(st, gid):
    return st.groups.setdefault(gid, {
        "generation": 0, "protocol_type": "consumer", "protocol": "",
        "members": {}, "assignments": {}, "state": "Empty",
    })


def h_join_group(st, ctx, v, r):
    gid = r.string()
    r.i32()  # session timeout
    if v >= 1:
        r.i32()  # rebalance timeout
    member_id = r.string()
    if v >= 5:
        r.string()  # group_instance_id
    ptype = r.string()
    protocols = r.array(lambda: (r.string(), r.bytes_()))
    with st.lock:
        g = _group(st, gid)
        if not member_id:
            member_id = "%s-%s" % (ctx.client_id or "member", uuid.uuid4())
        g["generation"] += 1
        g["protocol_type"] = ptype
        pname, pmeta = protocols[0] if protocols else ("", b"")
        g["protocol"] = pname
        g["members"] = {member_id: (ctx.client_id or "", pmeta)}
        g["state"] = "CompletingRebalance"
        gen = g["generation"]
    body = b""
    if v >= 2:
        body += i32(0)
    body += i16(NONE) + i32(gen) + string(pname) + string(member_id) + string(member_id)
    body += array([(member_id, pmeta)], lambda m: string(m[0]) + bytes_(m[1]))
    return body


def h_sync_group(st, ctx, v, r):
    gid = r.string()
    r.i32()  # generation
    member_id = r.string()
    if v >= 3:
        r.string()
    assigns = r.array(lambda: (r.string(), r.bytes_()))
    with st.lock:
        g = _group(st, gid)
        for m, a in assigns or []:
            g["assignments"][m] = a
        g["state"] = "Stable"
        mine = g["assignments"].get(member_id, b"")
    body = b""
    if v >= 1:
        body += i32(0)
    return body + i16(NONE) + bytes_(mine)


def h_heartbeat(st, ctx, v, r):
    r.string(); r.i32(); r.string()
    return (i32(0) if v >= 1 else b"") + i16(NONE)


def h_leave_group(st, ctx, v, r):
    gid = r.string()
    member_id = r.string()
    with st.lock:
        g = _group(st, gid)
        g["members"].pop(member_id, None)
        g["assignments"].pop(member_id, None)
        if not g["members"]:
            g["state"] = "Empty"
    return (i32(0) if v >= 1 else b"") + i16(NONE)


def _groups_snapshot(st):
    with st.lock:
        if not st.groups:
            # Always list at least one group.
            _group(st, "kzero-fixture-group")
        return {k: dict(v) for k, v in st.groups.items()}


def h_list_groups(st, ctx, v, r):
    groups = _groups_snapshot(st)
    body = b""
    if v >= 1:
        body += i32(0)
    body += i16(NONE)
    body += array(sorted(groups.items()), lambda kv: string(kv[0]) + string(kv[1]["protocol_type"]))
    return body


def h_describe_groups(st, ctx, v, r):
    names = r.array(r.string)
    if v >= 3:
        r.boolean()
    groups = _groups_snapshot(st)

    def grp(name):
        g = groups.get(name)
        if g is None:
            return (i16(NONE) + string(name) + string("Dead") + string("") + string("")
                    + array([], None))
        members = [(m, cid, meta, g["assignments"].get(m, b""))
                   for m, (cid, meta) in g["members"].items()]
        return (i16(NONE) + string(name) + string(g["state"]) + string(g["protocol_type"])
                + string(g["protocol"])
                + array(members, lambda m: string(m[0]) + string(m[1]) + string("/127.0.0.1")
                        + bytes_(m[2]) + bytes_(m[3])))

    body = b""
    if v >= 1:
        body += i32(0)
    return body + array(names, grp)


def h_create_topics(st, ctx, v, r):
    def topic():
        name = r.string()
        n = r.i32()
        r.i16()  # replication factor
        r.array(lambda: (r.i32(), r.array(r.i32)))  # assignments
        r.array(lambda: (r.string(), r.string()))   # configs
        return (name, n)

    topics = r.array(topic)
    r.i32()  # timeout
    validate_only = r.boolean() if v >= 1 else False
    if not validate_only:
        for name, n in topics:
            st.ensure_topic(name, n if n > 0 else None)
    body = i32(0) if v >= 2 else b""
    body += array(topics, lambda t: string(t[0]) + i16(NONE) + (string(None) if v >= 1 else b""))
    return body


def h_delete_topics(st, ctx, v, r):
    names = r.array(r.string)
    r.i32()
    with st.lock:
        for n in names:
            st.topics.pop(n, None)
    body = i32(0) if v >= 1 else b""
    return body + array(names, lambda n: string(n) + i16(NONE))


def h_init_producer_id(st, ctx, v, r):
    r.string()  # transactional id
    r.i32()
    with st.lock:
        pid = st.next_producer_id
        st.next_producer_id += 1
    return i32(0) + i16(NONE) + i64(pid) + i16(0)


def h_offset_for_leader_epoch(st, ctx, v, r):
    if v >= 3:
        r.i32()  # replica_id
    topics = r.array(lambda: (r.string(), r.array(lambda: (r.i32(), r.i32() if v >= 2 else -1, r.i32()))))

    def part(name, p):
        _data, hw = st.read(name, p[0], 1 << 62, 0)
        return i16(NONE) + i32(p[0]) + i32(0) + i64(hw)

    body = i32(0) if v >= 2 else b""
    return body + array(topics, lambda t: string(t[0]) + array(t[1], lambda p: part(t[0], p)))


TOPIC_CONFIGS = [
    ("cleanup.policy", "delete"),
    ("compression.type", "producer"),
    ("retention.ms", "604800000"),
    ("segment.bytes", "1073741824"),
    ("max.message.bytes", "1048588"),
]
BROKER_CONFIGS = [
    ("num.partitions", "1"),
    ("log.retention.hours", "168"),
    ("auto.create.topics.enable", "true"),
]


def h_describe_configs(st, ctx, v, r):
    resources = r.array(lambda: (r.i8(), r.string(), r.array(r.string)))
    if v >= 1:
        r.boolean()  # include_synonyms

    def res(rs):
        rtype, name, keys = rs
        cfgs = TOPIC_CONFIGS if rtype == 2 else BROKER_CONFIGS
        if keys:
            cfgs = [c for c in cfgs if c[0] in keys]

        def cfg(c):
            out = string(c[0]) + string(c[1]) + boolean(False)
            if v == 0:
                return out + boolean(True) + boolean(False)
            return out + i8(5) + boolean(False) + array([], None)  # source DEFAULT_CONFIG

        return i16(NONE) + string(None) + i8(rtype) + string(name) + array(cfgs, cfg)

    return i32(0) + array(resources, res)


HANDLERS = {
    0: h_produce, 1: h_fetch, 2: h_list_offsets, 3: h_metadata,
    8: h_offset_commit, 9: h_offset_fetch, 10: h_find_coordinator,
    11: h_join_group, 12: h_heartbeat, 13: h_leave_group, 14: h_sync_group,
    15: h_describe_groups, 16: h_list_groups, 18: h_api_versions,
    19: h_create_topics, 20: h_delete_topics, 22: h_init_producer_id,
    23: h_offset_for_leader_epoch, 32: h_describe_configs,
}


# ---------------------------------------------------------------------------
# Frame recorder

class Recorder:
    def __init__(self, raw_dir):
        self.raw_dir = raw_dir
        self.lock = threading.Lock()
        self.seq = 0
        self.label = "unlabeled"
        os.makedirs(raw_dir, exist_ok=True)

    def record(self, conn_id, frame, api_key, api_version, client_id, note):
        with self.lock:
            self.seq += 1
            seq = self.seq
            d = os.path.join(self.raw_dir, self.label)
            os.makedirs(d, exist_ok=True)
            fname = "%06d_c%03d_k%d_v%d.bin" % (seq, conn_id, api_key, api_version)
            with open(os.path.join(d, fname), "wb") as f:
                f.write(frame)
            with open(os.path.join(d, "index.jsonl"), "a") as f:
                f.write(json.dumps({
                    "seq": seq, "conn": conn_id, "api_key": api_key,
                    "api": API_NAMES.get(api_key, "api%d" % api_key),
                    "version": api_version, "client_id": client_id,
                    "size": len(frame), "file": fname, "note": note,
                }) + "\n")


# ---------------------------------------------------------------------------
# Server

class ConnCtx:
    client_id = None


class KafkaHandler(socketserver.BaseRequestHandler):
    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.request.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def handle(self):
        srv = self.server
        with srv.conn_lock:
            srv.conn_seq += 1
            conn_id = srv.conn_seq
            srv.open_conns += 1
        self.request.settimeout(120)
        ctx = ConnCtx()
        try:
            while not srv.stopping:
                hdr = self.recv_exact(4)
                if hdr is None:
                    return
                size = struct.unpack(">i", hdr)[0]
                if size < 8 or size > 16 * 1024 * 1024:
                    log("conn %d: bad frame size %d, closing" % (conn_id, size))
                    return
                frame = self.recv_exact(size)
                if frame is None:
                    return
                if not self.process(conn_id, ctx, frame):
                    return
        except (ConnectionError, socket.timeout, OSError) as e:
            log("conn %d: %s" % (conn_id, e))
        finally:
            with srv.conn_lock:
                srv.open_conns -= 1

    def process(self, conn_id, ctx, frame):
        srv = self.server
        api_key, api_version, corr = struct.unpack_from(">hhi", frame, 0)
        r = Reader(frame, 8)
        client_id = r.string()
        ctx.client_id = client_id
        name = API_NAMES.get(api_key, "api%d" % api_key)
        rng = ADVERTISED_MAP.get(api_key)

        if api_key == 18:
            if api_version > 4:
                srv.recorder.record(conn_id, frame, api_key, api_version, client_id,
                                    "unsupported ApiVersions -> v0 error 35")
                body = i16(UNSUPPORTED_VERSION) + array([(18, 0, 4)], lambda a: i16(a[0]) + i16(a[1]) + i16(a[2]))
                self.send(corr, body)
                log("conn %d: ApiVersions v%d > 4: answered UNSUPPORTED_VERSION" % (conn_id, api_version))
                return True
            if api_version >= 3:
                r.tag_buffer()  # request header v2
        if rng is None or not (rng[0] <= api_version <= rng[1]) or api_key not in HANDLERS:
            srv.recorder.record(conn_id, frame, api_key, api_version, client_id,
                                "unsupported: connection closed")
            log("conn %d: UNSUPPORTED %s (key %d) v%d from %r: closing connection"
                % (conn_id, name, api_key, api_version, client_id))
            return False

        srv.recorder.record(conn_id, frame, api_key, api_version, client_id, "")
        if api_key == 18 and api_version >= 3:
            # Parse the flexible body (client software name/version) for the log.
            try:
                sw = (r.compact_string(), r.compact_string())
                log("conn %d: ApiVersions v%d from %r software=%s" % (conn_id, api_version, client_id, sw))
            except Exception:
                pass
            r = Reader(frame, 8)
            r.string()
            r.tag_buffer()
        try:
            body = HANDLERS[api_key](srv.state, ctx, api_version, r)
        except Exception as e:
            log("conn %d: error handling %s v%d: %r; closing" % (conn_id, name, api_version, e))
            return False
        log("conn %d: %s v%d corr=%d client=%r (%d bytes)%s"
            % (conn_id, name, api_version, corr, client_id, len(frame),
               "" if body is not None else " [no response]"))
        if body is not None:
            self.send(corr, body)
        return True

    def send(self, corr, body):
        # Response header v0 (correlation id only) for every response we give:
        # ApiVersions always uses v0, and every other version we answer is
        # non-flexible.
        payload = i32(corr) + body
        self.request.sendall(i32(len(payload)) + payload)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, addr, state, recorder):
        super().__init__(addr, KafkaHandler)
        self.state = state
        self.recorder = recorder
        self.conn_lock = threading.Lock()
        self.conn_seq = 0
        self.open_conns = 0
        self.stopping = False


class ControlHandler(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline(1024).decode().strip()
        ks = self.server.kafka
        if line.startswith("LABEL "):
            label = line[6:].strip().replace("/", "_")
            deadline = time.time() + 15
            while time.time() < deadline:
                with ks.conn_lock:
                    if ks.open_conns == 0:
                        break
                time.sleep(0.1)
            with ks.conn_lock:
                left = ks.open_conns
            ks.recorder.label = label
            log("label -> %s (open connections: %d)" % (label, left))
            self.wfile.write(("OK %d\n" % left).encode())
        elif line == "STOP":
            self.wfile.write(b"OK stopping\n")
            ks.stopping = True
            threading.Thread(target=ks.shutdown, daemon=True).start()
            threading.Thread(target=self.server.shutdown, daemon=True).start()
        else:
            self.wfile.write(b"ERR unknown command\n")


class ControlServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=19092)
    ap.add_argument("--control-port", type=int, default=19093)
    ap.add_argument("--raw-dir", required=True)
    ap.add_argument("--partitions", type=int, default=2, help="partitions of auto-created topics")
    ap.add_argument("--label", default="unlabeled")
    ap.add_argument("--max-seconds", type=int, default=1800, help="exit after this long regardless")
    args = ap.parse_args()

    host = "127.0.0.1"
    state = State(host, args.port, args.partitions)
    recorder = Recorder(args.raw_dir)
    recorder.label = args.label
    ks = Server((host, args.port), state, recorder)
    cs = ControlServer((host, args.control_port), ControlHandler)
    cs.kafka = ks
    threading.Thread(target=cs.serve_forever, daemon=True).start()

    def watchdog():
        time.sleep(args.max_seconds)
        log("max-seconds reached, stopping")
        ks.stopping = True
        ks.shutdown()
        cs.shutdown()

    threading.Thread(target=watchdog, daemon=True).start()
    log("listening on %s:%d (control %d), raw frames -> %s" % (host, args.port, args.control_port, args.raw_dir))
    ks.serve_forever(poll_interval=0.2)
    ks.server_close()
    cs.server_close()
    log("stopped")


if __name__ == "__main__":
    main()
