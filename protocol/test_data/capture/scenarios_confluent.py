#!/usr/bin/env python3
"""confluent-kafka (bundled librdkafka) scenarios against the fake broker.

Usage: scenarios_confluent.py BOOTSTRAP CASE
Every case is bounded in time; the driver also wraps it in `timeout`.
"""

import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

BOOT = sys.argv[1]
CASE = sys.argv[2]
BASE = {"bootstrap.servers": BOOT, "client.id": "kzero-confluent"}

# Values repeat themselves (~100 bytes) so that compression pays off: both
# librdkafka and kafka-python send a batch uncompressed when compressing it
# does not make it smaller.
MESSAGES = [
    (b"key-1", b"value one " * 10, [("h1", b"v1")]),
    (None, b"value with null key " * 5, [("h1", b"v1"), ("h2", b"")]),
    (b"key-3", None, None),                         # tombstone
    (b"key-4", b"value four " * 10, [("trace", b"abc123")]),
]


def produce(topic, extra):
    p = Producer(dict(BASE, **extra))
    for k, v, h in MESSAGES:
        p.produce(topic, key=k, value=v, headers=h)
    left = p.flush(15)
    print("flush left", left)


def consume_group(topic, group):
    c = Consumer(dict(BASE, **{
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        "auto.commit.interval.ms": 1000,
        "heartbeat.interval.ms": 1000,
        "session.timeout.ms": 10000,
    }))
    c.subscribe([topic])
    got = 0
    deadline = time.time() + 8
    while time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got += 1
    print("consumed", got)
    try:
        c.commit(asynchronous=False)
    except KafkaException as e:
        print("commit:", e)
    c.close()


def consumer_nogroup():
    return Consumer(dict(BASE, **{"group.id": "kzero-confluent-assign",
                                  "enable.auto.commit": False}))


def poll_some(c, seconds):
    deadline = time.time() + seconds
    n = 0
    while time.time() < deadline:
        m = c.poll(0.3)
        if m is not None and not m.error():
            n += 1
    return n


def main():
    codec_cases = ("none", "gzip", "snappy", "lz4", "zstd")
    if CASE == "metadata":
        a = AdminClient(BASE)
        md = a.list_topics(timeout=10)
        print(sorted(md.topics))
        md = a.list_topics(topic="kz-confluent-meta", timeout=10)
        print(sorted(md.topics))
    elif CASE in codec_cases:
        produce("kz-confluent-" + CASE, {"compression.type": CASE, "linger.ms": 50})
    elif CASE == "acks0":
        produce("kz-confluent-acks0", {"acks": 0, "linger.ms": 50})
    elif CASE == "idempotent":
        produce("kz-confluent-idem", {"enable.idempotence": True, "linger.ms": 50})
    elif CASE == "group":
        consume_group("kz-confluent-none", "kz-confluent-group")
    elif CASE == "earliest":
        c = consumer_nogroup()
        c.assign([TopicPartition("kz-confluent-none", 0, -2), TopicPartition("kz-confluent-none", 1, -2)])
        print("consumed", poll_some(c, 3))
        c.close()
    elif CASE == "latest":
        c = consumer_nogroup()
        c.assign([TopicPartition("kz-confluent-none", 0, -1)])
        print("consumed", poll_some(c, 2))
        c.close()
    elif CASE == "watermarks":
        c = consumer_nogroup()
        print(c.get_watermark_offsets(TopicPartition("kz-confluent-none", 0), timeout=5, cached=False))
        c.close()
    elif CASE == "timestamp":
        c = consumer_nogroup()
        ts = int(time.time() * 1000) - 3600 * 1000
        res = c.offsets_for_times([TopicPartition("kz-confluent-none", 0, ts),
                                   TopicPartition("kz-confluent-none", 1, ts)], timeout=5)
        print(res)
        c.close()
    elif CASE == "leader-epoch":
        # A seek() to an offset > 0 that carries a leader epoch makes
        # librdkafka validate the position with OffsetForLeaderEpoch (KIP-320).
        c = consumer_nogroup()
        c.assign([TopicPartition("kz-confluent-none", 0, -2)])
        print("consumed", poll_some(c, 2))
        c.seek(TopicPartition("kz-confluent-none", 0, 1, leader_epoch=0))
        print("consumed after seek", poll_some(c, 3))
        c.close()
    elif CASE == "create-topics":
        a = AdminClient(BASE)
        fs = a.create_topics([NewTopic("kz-confluent-created", num_partitions=3, replication_factor=1,
                                       config={"cleanup.policy": "compact"})],
                             operation_timeout=5, request_timeout=10)
        for t, f in fs.items():
            print(t, f.result(timeout=10))
    elif CASE == "delete-topics":
        a = AdminClient(BASE)
        fs = a.delete_topics(["kz-confluent-created"], operation_timeout=5, request_timeout=10)
        for t, f in fs.items():
            print(t, f.result(timeout=10))
    elif CASE == "describe-configs":
        a = AdminClient(BASE)
        fs = a.describe_configs([ConfigResource("topic", "kz-confluent-none")], request_timeout=10)
        for r, f in fs.items():
            print(r, sorted(f.result(timeout=10)))
        fs = a.describe_configs([ConfigResource("broker", "1")], request_timeout=10)
        for r, f in fs.items():
            print(r, sorted(f.result(timeout=10)))
    elif CASE == "list-groups":
        a = AdminClient(BASE)
        r = a.list_consumer_groups(request_timeout=10).result(timeout=10)
        print([g.group_id for g in r.valid], r.errors)
    elif CASE == "describe-groups":
        a = AdminClient(BASE)
        fs = a.describe_consumer_groups(["kz-confluent-group"], request_timeout=10)
        for g, f in fs.items():
            d = f.result(timeout=10)
            print(g, d.state, [m.member_id for m in d.members])
    else:
        raise SystemExit("unknown case " + CASE)


if __name__ == "__main__":
    main()
