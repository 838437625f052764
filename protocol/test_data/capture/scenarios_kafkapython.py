#!/usr/bin/env python3
"""kafka-python 3.x scenarios against the fake broker.

Usage: scenarios_kafkapython.py BOOTSTRAP CASE
Every case is bounded in time; the driver also wraps it in `timeout`.
"""

import logging
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

BOOT = sys.argv[1]
CASE = sys.argv[2]
CLIENT_ID = "kzero-kafkapython"

# Values repeat themselves (~100 bytes) so that compression pays off: both
# librdkafka and kafka-python send a batch uncompressed when compressing it
# does not make it smaller.
MESSAGES = [
    (b"key-1", b"value one " * 10, [("h1", b"v1")]),
    (None, b"value with null key " * 5, [("h1", b"v1"), ("h2", b"")]),
    (b"key-3", None, []),                         # tombstone
    (b"key-4", b"value four " * 10, [("trace", b"abc123")]),
]


def produce(topic, **extra):
    p = KafkaProducer(bootstrap_servers=BOOT, client_id=CLIENT_ID, linger_ms=50,
                      request_timeout_ms=10000, **extra)
    futs = [p.send(topic, key=k, value=v, headers=h) for k, v, h in MESSAGES]
    p.flush(timeout=15)
    for f in futs:
        try:
            print(f.get(timeout=5))
        except Exception as e:  # noqa: BLE001
            print("send error", e)
    p.close(timeout=5)


def consumer(**extra):
    return KafkaConsumer(bootstrap_servers=BOOT, client_id=CLIENT_ID,
                         request_timeout_ms=10000, **extra)


def poll_for(c, seconds):
    n = 0
    deadline = time.time() + seconds
    while time.time() < deadline:
        for recs in c.poll(timeout_ms=300).values():
            n += len(recs)
    return n


def main():
    codec_cases = ("none", "gzip", "snappy", "lz4", "zstd")
    topic = "kz-kafkapython-none"
    if CASE in codec_cases:
        produce("kz-kafkapython-" + CASE, enable_idempotence=False, acks=1,
                compression_type=None if CASE == "none" else CASE)
    elif CASE == "acks0":
        produce("kz-kafkapython-acks0", enable_idempotence=False, acks=0)
    elif CASE == "idempotent":
        # kafka-python 3 defaults to enable_idempotence=True, acks='all'.
        produce("kz-kafkapython-idem", enable_idempotence=True)
    elif CASE == "group":
        c = consumer(group_id="kz-kafkapython-group", auto_offset_reset="earliest",
                     enable_auto_commit=True, auto_commit_interval_ms=1000,
                     heartbeat_interval_ms=1000, session_timeout_ms=10000)
        c.subscribe([topic])
        print("consumed", poll_for(c, 8))
        c.commit()
        c.close()
    elif CASE == "earliest":
        c = consumer(enable_auto_commit=False)
        tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
        c.assign(tps)
        c.seek_to_beginning()
        print("consumed", poll_for(c, 3))
        print(c.beginning_offsets(tps, timeout_ms=5000))
        c.close()
    elif CASE == "latest":
        c = consumer(enable_auto_commit=False)
        tps = [TopicPartition(topic, 0)]
        c.assign(tps)
        c.seek_to_end()
        print("consumed", poll_for(c, 2))
        print(c.end_offsets(tps, timeout_ms=5000))
        c.close()
    elif CASE == "timestamp":
        c = consumer(enable_auto_commit=False)
        ts = int(time.time() * 1000) - 3600 * 1000
        print(c.offsets_for_times({TopicPartition(topic, 0): ts, TopicPartition(topic, 1): ts},
                                  timeout_ms=5000))
        c.close()
    elif CASE == "create-topics":
        a = KafkaAdminClient(bootstrap_servers=BOOT, client_id=CLIENT_ID, request_timeout_ms=10000)
        print(a.create_topics({"kz-kafkapython-created": {
            "num_partitions": 3, "replication_factor": 1,
            "configs": {"cleanup.policy": "compact"}}}, timeout_ms=5000))
        a.close()
    elif CASE == "delete-topics":
        a = KafkaAdminClient(bootstrap_servers=BOOT, client_id=CLIENT_ID, request_timeout_ms=10000)
        print(a.delete_topics(["kz-kafkapython-created"], timeout_ms=5000))
        a.close()
    elif CASE == "describe-configs":
        a = KafkaAdminClient(bootstrap_servers=BOOT, client_id=CLIENT_ID, request_timeout_ms=10000)
        print(a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)],
                                 include_synonyms=True, config_filter="all"))
        print(a.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")],
                                 config_filter="all"))
        a.close()
    elif CASE == "list-groups":
        a = KafkaAdminClient(bootstrap_servers=BOOT, client_id=CLIENT_ID, request_timeout_ms=10000)
        print(a.list_groups())
        a.close()
    elif CASE == "describe-groups":
        a = KafkaAdminClient(bootstrap_servers=BOOT, client_id=CLIENT_ID, request_timeout_ms=10000)
        print(a.describe_groups(["kz-kafkapython-group"]))
        a.close()
    else:
        raise SystemExit("unknown case " + CASE)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
