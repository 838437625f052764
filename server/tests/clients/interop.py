"""Real-client scenarios against a kzero broker, run by server/tests/it/clients.rs.

Usage: interop.py BOOTSTRAP SCENARIO [ARGS...]; prints "OK SCENARIO" on success, exits non-zero otherwise.
Every wait is bounded. Clients: confluent-kafka (librdkafka) and kafka-python, unmodified.
"""
import logging
import sys
import time
import uuid

import kafka
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic

BOOT = sys.argv[1]
NAME = sys.argv[2]
ARGS = sys.argv[3:]
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def fresh(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def produce_confluent(topic, messages, extra=None, partition=None):
    """messages: list of (key, value, headers, timestamp_ms). Returns delivery errors."""
    conf = {"bootstrap.servers": BOOT, "linger.ms": 5}
    conf.update(extra or {})
    p = Producer(conf)
    errors = []
    for key, value, headers, ts in messages:
        kwargs = {"key": key, "value": value, "headers": headers,
                  "on_delivery": lambda e, m: errors.append(e) if e else None}
        if ts is not None:
            kwargs["timestamp"] = ts
        if partition is not None:
            kwargs["partition"] = partition
        p.produce(topic, **kwargs)
    left = p.flush(30)
    assert left == 0, f"{left} messages not delivered"
    return errors


def consume_confluent(topic, count, partitions=(0,), extra=None, timeout=30):
    conf = {"bootstrap.servers": BOOT, "group.id": "kzero-interop", "enable.auto.commit": False}
    conf.update(extra or {})
    c = Consumer(conf)
    c.assign([TopicPartition(topic, p, 0) for p in partitions])
    got = []
    deadline = time.time() + timeout
    while len(got) < count and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                continue
            raise RuntimeError(f"consume error: {m.error()}")
        got.append(m)
    c.close()
    assert len(got) == count, f"consumed {len(got)} of {count} from {topic}"
    return got


def consume_kafka_python(topic, count, partitions=(0,), extra=None, timeout=30):
    kc = kafka.KafkaConsumer(bootstrap_servers=BOOT, group_id=None, auto_offset_reset="earliest",
                             consumer_timeout_ms=timeout * 1000, **(extra or {}))
    kc.assign([kafka.TopicPartition(topic, p) for p in partitions])
    kc.seek_to_beginning()
    got = []
    deadline = time.time() + timeout
    for m in kc:
        got.append(m)
        if len(got) >= count or time.time() > deadline:
            break
    kc.close()
    assert len(got) == count, f"kafka-python consumed {len(got)} of {count} from {topic}"
    return got


def sample(n):
    """Keys, a null key every 10th, a null value (tombstone) at 7, headers including a null header value."""
    out = []
    for i in range(n):
        key = None if i % 10 == 0 else f"key-{i}".encode()
        value = None if i == 7 else (f"value-{i}-" * (1 + i % 5)).encode()
        out.append((key, value, [("h1", f"v{i}".encode()), ("null", None)], None))
    return out


def check(messages, expected, name):
    for i, (m, (key, value, headers, _)) in enumerate(zip(messages, expected)):
        assert m.offset() == i, f"{name}: offset {m.offset()} at {i}"
        assert m.key() == key, f"{name}: key {m.key()!r} != {key!r} at {i}"
        assert m.value() == value, f"{name}: value differs at {i}"
        assert m.headers() == headers, f"{name}: headers {m.headers()} at {i}"


def roundtrip():
    """Every codec: confluent produces (idempotent), both clients consume; kafka-python produces too."""
    for codec in CODECS:
        topic = fresh(f"rt-{codec}")
        msgs = sample(60)
        errors = produce_confluent(topic, msgs, {"compression.type": codec, "enable.idempotence": True})
        assert not errors, errors
        check(consume_confluent(topic, 60), msgs, f"confluent {codec}")
        got = consume_kafka_python(topic, 60)
        for i, (m, (key, value, headers, _)) in enumerate(zip(got, msgs)):
            assert (m.offset, m.key, m.value) == (i, key, value), f"kafka-python {codec} at {i}"
            assert list(m.headers) == headers, f"kafka-python headers {m.headers} at {i}"
        kp = kafka.KafkaProducer(bootstrap_servers=BOOT, compression_type=None if codec == "none" else codec,
                                 enable_idempotence=True, acks="all")
        for i in range(20):
            kp.send(topic, key=f"kp-{i}".encode() if i % 3 else None, value=None if i == 5 else b"x" * i,
                    headers=[("from", b"kafka-python")]).get(timeout=20)
        kp.close(timeout=10)
        extra = consume_confluent(topic, 80)[60:]
        for i, m in enumerate(extra):
            assert m.key() == (f"kp-{i}".encode() if i % 3 else None), f"kafka-python produced key at {i}"
            assert m.value() == (None if i == 5 else b"x" * i)
            assert m.headers() == [("from", b"kafka-python")]
        print(f"roundtrip {codec}: ok")


def partitions():
    topic = fresh("parts")
    admin = AdminClient({"bootstrap.servers": BOOT})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(20)
    msgs = [(f"key-{i % 17}".encode(), f"v{i}".encode(), None, None) for i in range(300)]
    assert not produce_confluent(topic, msgs)
    got = consume_kafka_python(topic, 300, partitions=(0, 1, 2))
    where = {}
    for m in got:
        where.setdefault(m.key, set()).add(m.partition)
    assert all(len(p) == 1 for p in where.values()), "a key landed in two partitions"
    assert len({p for ps in where.values() for p in ps}) > 1, "everything went to one partition"
    per = [m for m in consume_confluent(topic, 300, partitions=(0, 1, 2))]
    assert sorted(m.value() for m in per) == sorted(v for _, v, _, _ in msgs)


def offsets():
    topic = fresh("offsets")
    base = int(time.time() * 1000) - 100_000
    msgs = [(None, f"m{i}".encode(), None, base + i * 1000) for i in range(30)]
    # One message per batch, so that every timestamp is a batch boundary too.
    assert not produce_confluent(topic, msgs, {"linger.ms": 0, "batch.num.messages": 1})
    c = Consumer({"bootstrap.servers": BOOT, "group.id": "kzero-offsets"})
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    assert (lo, hi) == (0, 30), (lo, hi)
    found = c.offsets_for_times([TopicPartition(topic, 0, base + 10_500)], timeout=10)
    assert found[0].offset == 11, found
    found = c.offsets_for_times([TopicPartition(topic, 0, base + 10 ** 9)], timeout=10)
    assert found[0].offset == -1, found
    c.close()
    kc = kafka.KafkaConsumer(bootstrap_servers=BOOT, group_id=None)
    tp = kafka.TopicPartition(topic, 0)
    assert kc.beginning_offsets([tp])[tp] == 0
    assert kc.end_offsets([tp])[tp] == 30
    at = kc.offsets_for_times({tp: base + 5_000})[tp]
    assert at.offset == 5 and at.timestamp == base + 5_000, at
    kc.close()


def admin():
    a = AdminClient({"bootstrap.servers": BOOT})
    topic = fresh("admin")
    a.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(20)
    assert topic in a.list_topics(timeout=10).topics
    assert len(a.list_topics(timeout=10).topics[topic].partitions) == 2
    try:
        a.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(20)
        raise AssertionError("creating an existing topic succeeded")
    except Exception as e:  # noqa: BLE001
        assert "TOPIC_ALREADY_EXISTS" in str(e) or "already exists" in str(e), e
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = a.describe_configs([res])[res].result(20)
    assert configs["retention.ms"].value == "604800000", configs["retention.ms"]
    assert configs["cleanup.policy"].value == "delete"
    broker = ConfigResource(ConfigResource.Type.BROKER, "0")
    bconf = a.describe_configs([broker])[broker].result(20)
    assert bconf["num.partitions"].value == "1"
    a.delete_topics([topic])[topic].result(20)
    deadline = time.time() + 10
    while topic in a.list_topics(timeout=10).topics and time.time() < deadline:
        time.sleep(0.2)
    assert topic not in a.list_topics(timeout=10).topics
    # kafka-python's admin client too.
    ka = kafka.KafkaAdminClient(bootstrap_servers=BOOT)
    t2 = fresh("kadmin")
    ka.create_topics([kafka.admin.NewTopic(t2, num_partitions=1, replication_factor=1)])
    assert t2 in ka.list_topics()
    described = ka.describe_configs([kafka.admin.ConfigResource(kafka.admin.ConfigResourceType.TOPIC, t2)])
    assert described, described
    ka.delete_topics([t2])
    assert t2 not in ka.list_topics()
    ka.close()


def sent_versions(lines):
    """API name -> the highest version librdkafka's `protocol` debug lines say it sent."""
    import re
    seen = {}
    for line in lines:
        for api, v in re.findall(r"Sent (\w+)Request \(v(\d+)", line):
            seen[api] = max(seen.get(api, -1), int(v))
    return seen


def negotiated():
    """librdkafka negotiates its own maxima against kzero (Kafka 4.1's ranges) and everything still works:
    an idempotent producer, a group consumer that commits, offsets lookups; the versions it sent are read
    from its protocol debug log."""
    topic = fresh("negotiated")
    log = CapturedLog("negotiated")
    common = {"bootstrap.servers": BOOT, "debug": "protocol", "logger": log.logger}
    p = Producer({**common, "enable.idempotence": True, "linger.ms": 5})
    for i in range(20):
        p.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
    assert p.flush(30) == 0
    c = Consumer({**common, "group.id": fresh("negotiated-g"), "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([topic])
    got = []
    deadline = time.time() + 30
    while len(got) < 20 and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value())
    assert sorted(got) == sorted(f"v{i}".encode() for i in range(20)), got
    c.commit(asynchronous=False)
    committed = c.committed([TopicPartition(topic, 0)], timeout=10)
    assert committed[0].offset == 20, committed
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    assert (lo, hi) == (0, 20), (lo, hi)
    c.close()
    seen = sent_versions(log.lines)
    print("librdkafka sent:", sorted(seen.items()))
    # librdkafka 2.x's maxima (rdkafka_request.c): Metadata 12+, Produce 10+, Fetch 16 (topic ids), ListOffsets
    # 7+, OffsetCommit 9, OffsetFetch 9, ApiVersions 3, FindCoordinator 2, JoinGroup 5, SyncGroup 3.
    floors = {"Metadata": 12, "Produce": 10, "Fetch": 16, "ListOffsets": 7, "OffsetCommit": 9, "OffsetFetch": 9,
              "ApiVersion": 3, "InitProducerId": 4, "FindCoordinator": 2, "JoinGroup": 5, "SyncGroup": 3}
    for api, floor in floors.items():
        assert seen.get(api, -1) >= floor, f"librdkafka sent {api} v{seen.get(api)}, expected at least v{floor}"


def kafka_python_negotiated():
    """kafka-python 3 negotiates its maxima too (it logs each request with its version at DEBUG)."""
    import io
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    kl = logging.getLogger("kafka")
    kl.setLevel(logging.DEBUG)
    kl.addHandler(handler)
    topic = fresh("kp-negotiated")
    kp = kafka.KafkaProducer(bootstrap_servers=BOOT, enable_idempotence=True)
    for i in range(10):
        kp.send(topic, value=f"v{i}".encode())
    kp.flush(30)
    kp.close()
    kc = kafka.KafkaConsumer(topic, bootstrap_servers=BOOT, group_id=fresh("kp-neg-g"),
                             auto_offset_reset="earliest", consumer_timeout_ms=10_000)
    got = [m.value for m in kc]
    kc.commit()
    kc.close()
    kl.removeHandler(handler)
    assert sorted(got) == sorted(f"v{i}".encode() for i in range(10)), got
    import re
    seen = {}
    for api, v in re.findall(r"(\w+)Request(?:_v|\[v?|.*?version=)(\d+)", stream.getvalue()):
        seen[api] = max(seen.get(api, -1), int(v))
    print("kafka-python sent:", sorted(seen.items()))
    for api, floor in {"Metadata": 12, "Produce": 9, "Fetch": 12, "OffsetCommit": 8, "OffsetFetch": 8}.items():
        assert seen.get(api, -1) >= floor, f"kafka-python sent {api} v{seen.get(api)}, expected at least v{floor}"


def admin_apis():
    """The admin calls tools make, through confluent-kafka's AdminClient and kafka-python's admin client."""
    from confluent_kafka import TopicCollection
    from confluent_kafka.admin import (AclOperation, AlterConfigOpType, ConfigEntry, NewPartitions,
                                       OffsetSpec)
    a = AdminClient({"bootstrap.servers": BOOT})
    cluster = a.describe_cluster(include_authorized_operations=True).result(20)
    assert cluster.cluster_id and len(cluster.nodes) == 1, cluster
    assert cluster.controller is not None and cluster.controller.id == cluster.nodes[0].id, cluster
    assert AclOperation.DESCRIBE in cluster.authorized_operations, cluster.authorized_operations

    topic = fresh("adminapis")
    a.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(20)
    desc = a.describe_topics(TopicCollection([topic]), include_authorized_operations=True)[topic].result(20)
    assert desc.topic_id is not None and str(desc.topic_id) != "AAAAAAAAAAAAAAAAAAAAAA", desc.topic_id
    assert len(desc.partitions) == 2, desc
    assert AclOperation.WRITE in desc.authorized_operations, desc.authorized_operations

    # Add partitions; producers and consumers see them.
    a.create_partitions([NewPartitions(topic, 4)])[topic].result(20)
    deadline = time.time() + 10
    while len(a.list_topics(topic, timeout=10).topics[topic].partitions) != 4 and time.time() < deadline:
        time.sleep(0.2)
    assert len(a.list_topics(topic, timeout=10).topics[topic].partitions) == 4
    try:
        a.create_partitions([NewPartitions(topic, 3)])[topic].result(20)
        raise AssertionError("shrinking a topic succeeded")
    except Exception as e:  # noqa: BLE001
        assert "INVALID_PARTITIONS" in str(e) or "partitions" in str(e).lower(), e

    # Incremental config changes: set two keys, then delete one; the other keeps its value.
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("max.message.bytes", "500000", incremental_operation=AlterConfigOpType.SET),
    ])
    a.incremental_alter_configs([res])[res].result(20)
    plain = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = a.describe_configs([plain])[plain].result(20)
    assert configs["retention.ms"].value == "3600000", configs["retention.ms"]
    assert configs["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value, configs["retention.ms"]
    assert configs["max.message.bytes"].value == "500000"
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE)])
    a.incremental_alter_configs([res])[res].result(20)
    configs = a.describe_configs([plain])[plain].result(20)
    assert configs["retention.ms"].value == "604800000", configs["retention.ms"]
    assert configs["max.message.bytes"].value == "500000"
    # The new limit is enforced at once: a 600 kB record is refused.
    errors = produce_confluent(topic, [(None, b"x" * 600_000, None, None)], {"message.max.bytes": 2_000_000},
                               partition=0)
    assert errors and "MSG_SIZE_TOO_LARGE" in str(errors[0]), errors
    bad = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SET)])
    try:
        a.incremental_alter_configs([bad])[bad].result(20)
        raise AssertionError("cleanup.policy=compact was accepted")
    except Exception as e:  # noqa: BLE001
        assert "INVALID_CONFIG" in str(e) or "not supported" in str(e), e
    # AlterConfigs replaces the whole set.
    whole = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={"segment.ms": "120000"})
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        a.alter_configs([whole])[whole].result(20)
    configs = a.describe_configs([plain])[plain].result(20)
    assert configs["segment.ms"].value == "120000"
    assert configs["max.message.bytes"].value == "1048588", configs["max.message.bytes"]

    # Records with rising timestamps, one odd one out holding the maximum.
    base = int(time.time() * 1000) - 100_000
    stamps = [base + i * 10 for i in range(10)]
    stamps[6] = base + 50_000
    assert not produce_confluent(topic, [(None, f"r{i}".encode(), None, ts) for i, ts in enumerate(stamps)],
                                 {"linger.ms": 0, "batch.num.messages": 1}, partition=0)
    tp = TopicPartition(topic, 0)
    specs = {"earliest": OffsetSpec.earliest(), "latest": OffsetSpec.latest(),
             "max": OffsetSpec.max_timestamp()}
    found = {k: a.list_offsets({TopicPartition(topic, 0): v})[tp].result(20) for k, v in specs.items()}
    assert found["earliest"].offset == 0 and found["latest"].offset == 10, found
    assert found["max"].offset == 6 and found["max"].timestamp == base + 50_000, found["max"]

    # Delete records: the low watermark rises, earliest follows, consumers start there.
    deleted = a.delete_records([TopicPartition(topic, 0, 4)])[TopicPartition(topic, 0, 4)].result(20)
    assert deleted.low_watermark == 4, deleted
    assert a.list_offsets({TopicPartition(topic, 0): OffsetSpec.earliest()})[tp].result(20).offset == 4
    c = Consumer({"bootstrap.servers": BOOT, "group.id": fresh("adminapis-g"), "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, 0, 0)])
    first = None
    deadline = time.time() + 20
    while first is None and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            first = m.offset()
    c.close()
    assert first == 4, first

    # kafka-python's admin: cluster, log dirs, producers, partitions, delete records, offsets.
    ka = kafka.KafkaAdminClient(bootstrap_servers=BOOT)
    kc = ka.describe_cluster()
    assert kc["cluster_id"] == cluster.cluster_id and len(kc["brokers"]) == 1, kc
    dirs = ka.describe_log_dirs()
    [only] = dirs[0]["log_dirs"]
    assert only["error_code"] == 0 and only["total_bytes"] >= only["usable_bytes"] > 0, only
    sizes = {p["partition_index"]: p["partition_size"] for t in only["topics"] if t["name"] == topic
             for p in t["partitions"]}
    assert sorted(sizes) == [0, 1, 2, 3] and sizes[0] > 0 and sizes[1] == 0, sizes
    assert not produce_confluent(topic, [(None, b"idem", None, None)], {"enable.idempotence": True}, partition=1)
    producers = ka.describe_producers([kafka.TopicPartition(topic, 1)])
    [state] = producers[kafka.TopicPartition(topic, 1)].active_producers
    assert state.producer_id >= 0 and state.producer_epoch == 0 and state.last_sequence == 0, state
    assert state.last_timestamp > 0 and state.coordinator_epoch == -1, state
    ka.create_partitions({topic: kafka.admin.NewPartitions(total_count=5)})
    assert len(ka.describe_topics([topic])[0]["partitions"]) == 5
    ka.delete_records({kafka.TopicPartition(topic, 0): 6})
    assert a.list_offsets({TopicPartition(topic, 0): OffsetSpec.earliest()})[tp].result(20).offset == 6
    ka.close()
    a.delete_topics([topic])[topic].result(20)


def size_limits():
    limit = int(ARGS[0])
    topic = fresh("size")
    big = {"message.max.bytes": 10_000_000, "compression.type": "none", "linger.ms": 0}
    ok = produce_confluent(topic, [(None, b"u" * (limit - 200), None, None)], big)
    assert not ok, f"a message just under the limit failed: {ok}"
    over = produce_confluent(topic, [(None, b"o" * (limit + 100), None, None)], big)
    assert over and over[0].code() == KafkaError.MSG_SIZE_TOO_LARGE, f"over the limit: {over}"
    got = consume_confluent(topic, 1)
    assert len(got[0].value()) == limit - 200


def produce_n():
    topic, n, size = ARGS[0], int(ARGS[1]), int(ARGS[2])
    msgs = [(f"k{i}".encode(), (f"{i:010d}" * (size // 10 + 1))[:size].encode(), None, None) for i in range(n)]
    assert not produce_confluent(topic, msgs, {"compression.type": "none", "linger.ms": 20,
                                                "batch.size": 1_000_000, "queue.buffering.max.kbytes": 1_000_000})


def consume_n():
    topic, n, size = ARGS[0], int(ARGS[1]), int(ARGS[2])
    got = consume_confluent(topic, n, extra={"fetch.max.bytes": 50 * 1024 * 1024,
                                             "max.partition.fetch.bytes": 10 * 1024 * 1024}, timeout=120)
    for i in (0, n // 2, n - 1):
        assert got[i].value() == (f"{i:010d}" * (size // 10 + 1))[:size].encode(), f"message {i} differs"


def tls():
    ca = ARGS[0]
    topic = fresh("tls")
    msgs = sample(40)
    ssl = {"security.protocol": "SSL", "ssl.ca.location": ca, "ssl.endpoint.identification.algorithm": "none"}
    assert not produce_confluent(topic, msgs, dict(ssl, **{"compression.type": "lz4"}))
    check(consume_confluent(topic, 40, extra=ssl), msgs, "confluent over TLS")
    got = consume_kafka_python(topic, 40, extra={"security_protocol": "SSL", "ssl_cafile": ca,
                                                 "ssl_check_hostname": False})
    assert [m.value for m in got] == [v for _, v, _, _ in msgs]


def topic_configs():
    """Per-topic overrides: set by CreateTopics, described as dynamic topic configs, enforced, and kept."""
    phase, topic = ARGS[0], ARGS[1]
    a = AdminClient({"bootstrap.servers": BOOT})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    if phase == "create":
        cfg = {"retention.ms": "3600000", "max.message.bytes": "2000", "segment.bytes": "1048576"}
        a.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1, config=cfg)])[topic].result(20)
        # Values kzero cannot honour are refused, not ignored.
        bad = fresh("compacted")
        try:
            a.create_topics([NewTopic(bad, num_partitions=1, replication_factor=1,
                                      config={"cleanup.policy": "compact"})])[bad].result(20)
            raise AssertionError("a compacted topic was accepted")
        except Exception as e:  # noqa: BLE001
            assert "INVALID_CONFIG" in str(e) or "not supported" in str(e), e
        assert bad not in a.list_topics(timeout=10).topics
        # The topic's max.message.bytes is enforced.
        big = {"message.max.bytes": 10_000_000, "compression.type": "none", "linger.ms": 0}
        assert not produce_confluent(topic, [(None, b"s" * 1500, None, None)], big)
        over = produce_confluent(topic, [(None, b"o" * 3000, None, None)], big)
        assert over and over[0].code() == KafkaError.MSG_SIZE_TOO_LARGE, over
        # kafka-python's admin client sets configs too.
        ka = kafka.KafkaAdminClient(bootstrap_servers=BOOT)
        t2 = fresh("kcfg")
        ka.create_topics([kafka.admin.NewTopic(t2, 1, 1, topic_configs={"retention.bytes": "123456789"})])
        ka.close()
        entries = a.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, t2)])
        got = list(entries.values())[0].result(20)
        assert got["retention.bytes"].value == "123456789", got["retention.bytes"]
    configs = a.describe_configs([res])[res].result(20)
    assert configs["retention.ms"].value == "3600000", configs["retention.ms"]
    assert configs["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value, configs["retention.ms"].source
    assert configs["max.message.bytes"].value == "2000"
    assert configs["cleanup.policy"].source == ConfigSource.DEFAULT_CONFIG.value
    if phase == "check":
        # Still enforced after a restart.
        over = produce_confluent(topic, [(None, b"o" * 3000, None, None)],
                                 {"message.max.bytes": 10_000_000, "compression.type": "none"})
        assert over and over[0].code() == KafkaError.MSG_SIZE_TOO_LARGE, over


def alive():
    """A real client still works: a produce and a consume round trip."""
    topic = fresh("alive")
    assert not produce_confluent(topic, [(b"k", b"still here", None, None)])
    assert consume_confluent(topic, 1)[0].value() == b"still here"


def group_consumer(group, topic, extra=None):
    conf = {"bootstrap.servers": BOOT, "group.id": group, "auto.offset.reset": "earliest",
            "enable.auto.commit": False, "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
    conf.update(extra or {})
    c = Consumer(conf)
    c.subscribe([topic])
    return c


def poll_until(consumers, want, timeout=30):
    """Polls every consumer until `want(got)` holds; got maps consumer index -> list of messages."""
    got = {i: [] for i in range(len(consumers))}
    deadline = time.time() + timeout
    while time.time() < deadline:
        for i, c in enumerate(consumers):
            m = c.poll(0.1)
            if m is None or m.error():
                continue
            got[i].append(m)
        if want(got):
            return got
    raise AssertionError(f"timed out; got {[len(v) for v in got.values()]}")


def groups():
    """Two confluent-kafka consumers in one group split a 4-partition topic; when one leaves the other takes
    everything; committed offsets are where a new consumer resumes."""
    topic = fresh("grp")
    group = fresh("g")
    a = AdminClient({"bootstrap.servers": BOOT})
    a.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])[topic].result(20)
    msgs = [(f"k{i}".encode(), f"v{i}".encode(), None, None) for i in range(400)]
    for p in range(4):
        assert not produce_confluent(topic, msgs[p * 100:(p + 1) * 100], partition=p)
    started = time.time()
    c1 = group_consumer(group, topic)
    first = poll_until([c1], lambda g: len(g[0]) >= 1)
    first_record_s = time.time() - started
    c2 = group_consumer(group, topic)
    # Both end up with partitions: c2's arrival rebalances the group.
    seen2 = set()

    def poll2():
        m = c2.poll(0.1)
        if m is not None and not m.error():
            seen2.add(m.value())

    deadline = time.time() + 30
    while time.time() < deadline:
        c1.poll(0.1)
        poll2()
        a1 = {tp.partition for tp in c1.assignment()}
        a2 = {tp.partition for tp in c2.assignment()}
        if a1 and a2 and a1 | a2 == {0, 1, 2, 3} and not a1 & a2:
            break
    else:
        raise AssertionError(f"no split: {c1.assignment()} {c2.assignment()}")
    # c1 leaves without committing: c2 gets all four partitions and reads everything from the start.
    c1.close()
    deadline = time.time() + 30
    while time.time() < deadline and len(seen2) < 400:
        poll2()
    assert {tp.partition for tp in c2.assignment()} == {0, 1, 2, 3}, c2.assignment()
    assert len(seen2) == 400, f"c2 saw {len(seen2)} of 400"
    c2.commit(asynchronous=False)
    committed = c2.committed([TopicPartition(topic, p) for p in range(4)], timeout=10)
    assert [tp.offset for tp in committed] == [100] * 4, committed
    c2.close()
    # A new member of the group resumes at the committed offsets: nothing more to read.
    produce_confluent(topic, [(b"late", b"after-commit", None, None)], partition=2)
    c3 = group_consumer(group, topic)
    late = poll_until([c3], lambda g: len(g[0]) >= 1)[0]
    assert [m.value() for m in late] == [b"after-commit"], [m.value() for m in late]
    c3.close()
    groups_listed = a.list_consumer_groups().result(10)
    assert any(g.group_id == group for g in groups_listed.valid), groups_listed.valid
    print(f"first record after {first_record_s:.2f}s; first={first[0][0].value()}")


# --- Consumer groups (classic protocol), run by server/tests/it/groups.rs ------------------------------------

class Member:
    """A confluent-kafka group member that keeps what it consumed and records its rebalance callbacks."""

    def __init__(self, group, topic, extra=None):
        conf = {"bootstrap.servers": BOOT, "group.id": group, "auto.offset.reset": "earliest",
                "enable.auto.commit": False, "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
        conf.update(extra or {})
        self.c = Consumer(conf)
        self.assigned, self.revoked, self.lost, self.msgs, self.arrivals = [], [], [], [], []
        self.c.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost)

    def _on_assign(self, _c, parts):
        self.assigned.append(sorted(p.partition for p in parts))

    def _on_revoke(self, _c, parts):
        self.revoked.append(sorted(p.partition for p in parts))

    def _on_lost(self, _c, parts):
        self.lost.append(sorted(p.partition for p in parts))

    def poll(self, timeout=0.05):
        m = self.c.poll(timeout)
        if m is None:
            return None
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                return None
            raise RuntimeError(f"consume error: {m.error()}")
        self.msgs.append(m)
        self.arrivals.append((time.time(), m.partition()))
        return m

    def parts(self):
        return {tp.partition for tp in self.c.assignment()}

    def values(self):
        return [m.value() for m in self.msgs]

    def callbacks(self):
        return (len(self.assigned), len(self.revoked), len(self.lost))

    def __repr__(self):
        return f"<member {self.parts()} assigned={self.assigned} revoked={self.revoked} lost={self.lost}>"


class CapturedLog(logging.Handler):
    """A logger for librdkafka's log lines (its `logger` config) that keeps them."""

    def __init__(self, name):
        super().__init__()
        self.lines = []
        self.logger = logging.getLogger(f"rdkafka.{name}.{uuid.uuid4().hex[:6]}")
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        self.logger.addHandler(self)

    def emit(self, record):
        self.lines.append(record.getMessage())


def pump(members, cond, timeout, what):
    """Polls every member until cond() holds; returns the seconds it took. Fails after `timeout` seconds."""
    start = time.time()
    while time.time() - start < timeout:
        for m in members:
            m.poll()
        if cond():
            return time.time() - start
    raise AssertionError(f"timed out after {timeout}s waiting for {what}: {members}")


def hold(members, seconds, invariant=None, what="invariant"):
    """Polls every member for `seconds`, checking `invariant()` after every round."""
    end = time.time() + seconds
    while time.time() < end:
        for m in members:
            m.poll()
        if invariant is not None:
            assert invariant(), f"{what} broken: {members}"


def split(members, n):
    """Every member has partitions, no partition twice, all n partitions assigned."""
    sets = [m.parts() for m in members]
    union = set().union(*sets)
    return all(sets) and sum(len(s) for s in sets) == len(union) and union == set(range(n))


def nonempty(calls):
    """Incremental (cooperative) callbacks without the empty ones librdkafka makes when nothing changes."""
    return [c for c in calls if c]


def create_topic(topic, partitions):
    admin = AdminClient({"bootstrap.servers": BOOT})
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic].result(20)


def fill(topic, partitions, per, tag):
    """Produces `per` records to each partition, valued b"{tag}-{partition}-{i}"."""
    for p in partitions:
        msgs = [(None, f"{tag}-{p}-{i}".encode(), None, None) for i in range(per)]
        assert not produce_confluent(topic, msgs, partition=p)
    return {f"{tag}-{p}-{i}".encode() for p in partitions for i in range(per)}


def committed_offsets(group, topic, partitions):
    c = Consumer({"bootstrap.servers": BOOT, "group.id": group, "enable.auto.commit": False})
    got = c.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
    c.close()
    return [tp.offset for tp in got]


def describe_group(group):
    a = AdminClient({"bootstrap.servers": BOOT})
    return a.describe_consumer_groups([group])[group].result(10)


def group_restart():
    """Phase `first`: two members split a 4-partition topic; the one that committed and closed hands its
    partitions over at its commits; the survivor takes all four, commits and closes; a new consumer of the
    group resumes at the commits. Phase `after` (the broker restarted on the same data): the commits are
    still there and a consumer resumes at them."""
    phase, topic, group = ARGS[0], ARGS[1], ARGS[2]
    if phase == "first":
        create_topic(topic, 4)
        fill(topic, range(4), 50, "old")
        c1 = Member(group, topic)
        pump([c1], lambda: c1.parts() == {0, 1, 2, 3}, 30, "c1 gets all four partitions")
        c2 = Member(group, topic)
        pump([c1, c2], lambda: split([c1, c2], 4), 30, "a split between c1 and c2")
        mine1 = c1.parts()
        print(f"split: c1 {sorted(mine1)}, c2 {sorted(c2.parts())}")

        def positions(m, want):
            got = m.c.position([TopicPartition(topic, p) for p in sorted(want)])
            return [tp.offset for tp in got] == [want[p] for p in sorted(want)]

        # c1 reads its partitions to the end, commits and closes (a LeaveGroup).
        pump([c1, c2], lambda: positions(c1, {p: 50 for p in mine1}), 30, "c1 reads its partitions")
        c1.c.commit(asynchronous=False)
        c1.c.close()
        assert committed_offsets(group, topic, sorted(mine1)) == [50] * len(mine1)
        handover = fill(topic, sorted(mine1), 5, "handover")
        seen_before = len(c2.msgs)
        pump([c2], lambda: c2.parts() == {0, 1, 2, 3}, 30, "c2 takes all four partitions")
        want = {p: 55 if p in mine1 else 50 for p in range(4)}
        pump([c2], lambda: positions(c2, want), 30, "c2 reads to the end")
        hold([c2], 1.0)
        from_c1 = [m.value() for m in c2.msgs[seen_before:] if m.partition() in mine1]
        assert sorted(from_c1) == sorted(handover), f"c2 did not resume at c1's commits: {from_c1[:5]}"
        c2.c.commit(asynchronous=False)
        c2.c.close()
        want = [want[p] for p in range(4)]
        got = committed_offsets(group, topic, range(4))
        assert got == want, f"committed {got}, expected {want}"
        # A restarted consumer resumes at the commits: only what came after.
        fill(topic, [2], 1, "late")
        c3 = Member(group, topic)
        pump([c3], lambda: len(c3.msgs) >= 1, 30, "c3's first record")
        hold([c3], 1.0)
        assert c3.values() == [b"late-2-0"], c3.values()[:5]
        c3.c.commit(asynchronous=False)
        c3.c.close()
        want[2] += 1
        assert committed_offsets(group, topic, range(4)) == want
        print("COMMITTED " + ",".join(str(o) for o in want))
    else:
        want = [int(x) for x in ARGS[3].split(",")]
        got = committed_offsets(group, topic, range(4))
        assert got == want, f"after the broker restart: committed {got}, expected {want}"
        new = fill(topic, range(4), 1, "after")
        c4 = Member(group, topic)
        pump([c4], lambda: len(c4.msgs) >= 4, 30, "c4 reads the new records")
        hold([c4], 1.0)
        assert set(c4.values()) == new and len(c4.msgs) == 4, c4.values()[:10]
        c4.c.close()


def group_reset():
    """A fresh group starts at the log start with auto.offset.reset=earliest and at the end with latest."""
    topic = fresh("reset")
    create_topic(topic, 2)
    old = fill(topic, range(2), 10, "old")
    e = Member(fresh("earliest"), topic, {"auto.offset.reset": "earliest"})
    late = Member(fresh("latest"), topic, {"auto.offset.reset": "latest"})
    pump([e, late], lambda: len(e.msgs) >= 20 and late.parts() == {0, 1}, 30, "both groups assigned")
    assert set(e.values()) == old and len(e.msgs) == 20, e.values()
    # The latest group's position is the end, resolved after its assignment: produce until it sees one.
    sent = set()
    start = time.time()
    while not late.msgs:
        assert time.time() - start < 30, f"latest never saw a new record; sent {len(sent)}"
        for p in range(2):
            v = f"new-{p}-{len(sent)}".encode()
            assert not produce_confluent(topic, [(None, v, None, None)], partition=p)
            sent.add(v)
        t = time.time()
        while time.time() - t < 1.0 and not late.msgs:
            late.poll()
            e.poll()
    hold([e, late], 1.0)
    assert all(v.startswith(b"new") for v in late.values()), f"latest read old records: {late.values()[:5]}"
    assert set(e.values()) == old | sent, "earliest misses records"
    print(f"latest group saw {len(late.msgs)} of {len(sent)} new records, none of the {len(old)} old ones")
    e.c.close()
    late.c.close()


def group_cooperative():
    """cooperative-sticky: a second member joining moves only the partitions it gets; the first keeps the
    rest without revoking them; when the second leaves, the first gets them back incrementally."""
    topic, group = fresh("coop"), fresh("coop")
    create_topic(topic, 4)
    fill(topic, range(4), 10, "r")
    coop = {"partition.assignment.strategy": "cooperative-sticky"}
    c1 = Member(group, topic, coop)
    pump([c1], lambda: c1.parts() == {0, 1, 2, 3}, 30, "c1 gets all four partitions")
    assert c1.assigned == [[0, 1, 2, 3]] and not c1.revoked, c1
    c2 = Member(group, topic, coop)
    took = pump([c1, c2], lambda: split([c1, c2], 4), 30, "an incremental split")
    hold([c1, c2], 1.5, lambda: split([c1, c2], 4), "the split")
    moved = {p for r in c1.revoked for p in r}
    kept = c1.parts()
    print(f"split after {took:.2f}s: c1 kept {sorted(kept)}, revoked {c1.revoked}; c2 {c2.assigned}")
    assert len(kept) == 2 and moved == c2.parts() == {0, 1, 2, 3} - kept, (c1, c2)
    assert nonempty(c1.assigned) == [[0, 1, 2, 3]], f"c1 was re-assigned partitions it kept: {c1.assigned}"
    assert nonempty(c1.revoked) == [sorted(moved)], f"c1 revoked more than it gave: {c1.revoked}"
    assert not c1.lost and not nonempty(c2.revoked) and not c2.lost, (c1, c2)
    assert nonempty(c2.assigned) == [sorted(moved)], c2.assigned
    d = describe_group(group)
    assert d.partition_assignor == "cooperative-sticky", d.partition_assignor
    assert len(d.members) == 2, d.members
    # c2 leaves: its partitions come back to c1, which revokes nothing.
    c2.c.close()
    pump([c1], lambda: c1.parts() == {0, 1, 2, 3}, 30, "c1 gets the partitions back")
    assert nonempty(c1.assigned)[-1] == sorted(moved) and nonempty(c1.revoked) == [sorted(moved)], c1
    c1.c.close()


def group_first_record():
    """A consumer with client defaults (session and heartbeat) in a fresh group: time to its first record."""
    topic = fresh("first")
    create_topic(topic, 1)
    fill(topic, [0], 10, "r")
    c = Consumer({"bootstrap.servers": BOOT, "group.id": fresh("first"), "auto.offset.reset": "earliest"})
    start = time.time()
    c.subscribe([topic])
    while True:
        assert time.time() - start < 20, "no record within 20 s"
        m = c.poll(0.05)
        if m is not None and not m.error():
            break
    took = time.time() - start
    c.close()
    print(f"first record for a fresh group after {took:.2f}s")
    assert took < 4.0, f"the first record took {took:.2f}s"


def group_kafka_python():
    """kafka-python with a group_id: subscribe, consume, commit; a second run gets only the new records and
    commits on close; the commits are what OffsetFetch returns."""
    topic, group = fresh("kp"), fresh("kp")
    create_topic(topic, 2)
    first = fill(topic, range(2), 15, "one")
    tps = [kafka.TopicPartition(topic, p) for p in range(2)]

    def run(want, auto_commit):
        kc = kafka.KafkaConsumer(topic, bootstrap_servers=BOOT, group_id=group, auto_offset_reset="earliest",
                                 enable_auto_commit=auto_commit, session_timeout_ms=6000,
                                 heartbeat_interval_ms=500)
        got = []
        deadline = time.time() + 30
        while len(got) < want and time.time() < deadline:
            for recs in kc.poll(timeout_ms=200).values():
                got.extend(r.value for r in recs)
        end = time.time() + 1.0
        while time.time() < end:
            for recs in kc.poll(timeout_ms=200).values():
                got.extend(r.value for r in recs)
        return kc, got

    kc, got = run(30, False)
    assert sorted(got) == sorted(first), f"first run got {len(got)}: {got[:5]}"
    kc.commit()
    assert [kc.committed(tp) for tp in tps] == [15, 15], [kc.committed(tp) for tp in tps]
    kc.close()
    second = fill(topic, range(2), 5, "two")
    kc, got = run(10, True)
    assert sorted(got) == sorted(second), f"second run got {len(got)}: {got[:12]}"
    kc.close()  # commits (enable_auto_commit)
    check = kafka.KafkaConsumer(bootstrap_servers=BOOT, group_id=group, enable_auto_commit=False)
    assert [check.committed(tp) for tp in tps] == [20, 20], [check.committed(tp) for tp in tps]
    check.close()


def group_member():
    """A lone group member for group_kill, run as its own process: prints its assignments."""
    group, topic = ARGS[0], ARGS[1]

    def on_assign(_c, parts):
        print("ASSIGNED " + ",".join(str(p.partition) for p in parts), flush=True)

    def on_revoke(_c, _parts):
        print("REVOKED", flush=True)

    c = Consumer({"bootstrap.servers": BOOT, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    end = time.time() + 60
    while time.time() < end:
        c.poll(0.1)
    c.close()


def group_kill():
    """A member killed with SIGKILL (no LeaveGroup) is expelled after its 6 s session timeout, and the
    survivor gets its partitions."""
    killed_member_is_replaced("group_member", lambda group, topic: Member(group, topic))


def killed_member_is_replaced(child_scenario, make_member):
    """Runs `child_scenario` (a lone member printing its assignments) as its own process beside a member
    made by `make_member`; kills the child with SIGKILL once they share four partitions, and checks that
    the survivor gets them all after the 6 s session timeout, not before, and reads every record."""
    import queue
    import subprocess
    import threading

    topic, group = fresh("kill"), fresh("kill")
    create_topic(topic, 4)
    records = fill(topic, range(4), 25, "r")
    child = subprocess.Popen([sys.executable, __file__, BOOT, child_scenario, group, topic],
                             stdout=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.strip()) for line in child.stdout], daemon=True).start()
    try:
        theirs = set()
        a = make_member(group, topic)

        def both_assigned():
            nonlocal theirs
            while not lines.empty():
                line = lines.get()
                if line.startswith("ASSIGNED"):
                    theirs = {int(p) for p in line[len("ASSIGNED"):].strip().split(",") if p}
                elif line == "REVOKED":
                    theirs = set()
            mine = a.parts()
            return mine and theirs and not mine & theirs and mine | theirs == {0, 1, 2, 3}

        pump([a], both_assigned, 30, "a split with the other process")
        hold([a], 1.0)
        print(f"survivor {sorted(a.parts())}, the other process {sorted(theirs)}")
        child.kill()
        child.wait(10)
        killed = time.time()
        pump([a], lambda: a.parts() == {0, 1, 2, 3}, 30, "the survivor gets all four partitions")
        took = time.time() - killed
        print(f"the killed member's partitions reassigned {took:.2f}s after SIGKILL (session timeout 6 s)")
        assert took >= 4.5, f"reassigned after {took:.2f}s: the member was not kept for its session timeout"
        assert took <= 15, f"reassigned only after {took:.2f}s"
        pump([a], lambda: set(a.values()) >= records, 30, "the survivor reads every record")
        a.c.close()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


def group_static():
    """Static membership: a member with group.instance.id that restarts within its session timeout gets
    its partitions back without a rebalance: the other member sees no revoke and keeps its assignment. The
    follower restarts, then the leader; a restarted leader must not be told it leads (JoinGroup below v9)."""
    topic, group = fresh("static"), fresh("static")
    create_topic(topic, 4)
    fill(topic, range(4), 10, "r")

    def static(name, log=None):
        extra = {"group.instance.id": name, "session.timeout.ms": 10000}
        if log is not None:
            extra.update({"debug": "cgrp", "logger": log.logger})
        return Member(group, topic, extra)

    a = static("static-a")
    pump([a], lambda: a.parts() == {0, 1, 2, 3}, 30, "a (the leader) gets all four partitions")
    b = static("static-b")
    pump([a, b], lambda: split([a, b], 4), 30, "a split between a and b")
    hold([a, b], 1.5, lambda: split([a, b], 4), "the split")
    d = describe_group(group)
    assert sorted(m.group_instance_id for m in d.members) == ["static-a", "static-b"], d.members
    wrong = []
    for restarting, other in (("b", "a"), ("a", "b")):
        members = {"a": a, "b": b}
        old, keep = members[restarting], members[other]
        mine, theirs, calls = old.parts(), keep.parts(), keep.callbacks()
        old_id = old.c.memberid()
        old.c.close()  # a static member sends no LeaveGroup
        # librdkafka's group log shows how the broker answered the restarted member's JoinGroup (v5).
        log = CapturedLog(f"static-{restarting}")
        new = static(f"static-{restarting}", log)
        took = pump([keep, new], lambda: new.parts() == mine, 30, f"restarted {restarting} gets {mine} back")
        hold([keep, new], 3.0, lambda: keep.parts() == theirs and keep.callbacks() == calls,
             f"{other} keeps {sorted(theirs)} without a rebalance")
        assert new.parts() == mine and new.assigned == [sorted(mine)] and not new.revoked, new
        assert new.c.memberid() != old_id, "the restarted member kept its member id"
        print(f"static {restarting} restarted: {sorted(mine)} back after {took:.2f}s; {other} kept "
              f"{sorted(theirs)} with callbacks {calls}")
        # Below JoinGroup v9 Kafka answers a static leader that rejoins a Stable group with the *old* leader
        # id and no member list, so that it does not run the assignor (whose result a Stable group ignores).
        joins = [line for line in log.lines if "JoinGroup response" in line]
        if any("I am elected leader" in line for line in log.lines):
            wrong.append(f"restarted static member {restarting} was told it is the leader: {joins}")
        members[restarting] = new
        a, b = members["a"], members["b"]
    d = describe_group(group)
    assert sorted(m.group_instance_id for m in d.members) == ["static-a", "static-b"], d.members
    assert str(d.state).endswith("STABLE"), d.state
    a.c.close()
    b.c.close()
    assert not wrong, wrong


def group_five():
    """Five members joining at once converge to one stable generation with every partition assigned once."""
    import threading

    topic, group = fresh("five"), fresh("five")
    create_topic(topic, 10)
    n = 5
    members = [None] * n
    ready = threading.Barrier(n + 1)
    stop = threading.Event()
    parts = [set() for _ in range(n)]
    errors = []

    def run(i):
        try:
            ready.wait(20)
            members[i] = Member(group, topic)
            while not stop.is_set():
                members[i].poll(0.05)
                parts[i] = members[i].parts()
            members[i].c.close()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    ready.wait(20)
    start = time.time()

    def stable():
        sets = list(parts)
        union = set().union(*sets)
        return all(len(s) == 2 for s in sets) and union == set(range(10))

    try:
        while not stable():
            assert not errors, errors
            assert time.time() - start < 40, f"no stable assignment after 40 s: {parts}"
            time.sleep(0.02)
        took = time.time() - start
        calls = [m.callbacks() for m in members]
        end = time.time() + 2.0
        while time.time() < end:
            assert stable(), f"the assignment changed after it was stable: {parts}"
            time.sleep(0.05)
        assert [m.callbacks() for m in members] == calls, f"rebalances after stable: {calls}"
        d = describe_group(group)
        assert str(d.state).endswith("STABLE"), d.state
        assigned = [tp.partition for m in d.members for tp in m.assignment.topic_partitions]
        assert len(d.members) == n and sorted(assigned) == list(range(10)), d.members
        print(f"5 members stable after {took:.2f}s; rebalance callbacks (assign, revoke, lost) per member {calls}")
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors


# --- KIP-848 consumer groups (group.protocol=consumer), run by server/tests/it/groups.rs ---------------------

class NewMember(Member):
    """A confluent-kafka member using the KIP-848 protocol (the broker assigns; no client timeouts), which
    records when each of its records arrived."""

    def __init__(self, group, topics, extra=None):
        conf = {"bootstrap.servers": BOOT, "group.id": group, "group.protocol": "consumer",
                "auto.offset.reset": "earliest", "enable.auto.commit": False}
        conf.update(extra or {})
        self.c = Consumer(conf)
        self.assigned, self.revoked, self.lost, self.msgs, self.arrivals = [], [], [], [], []
        self.c.subscribe(topics if isinstance(topics, list) else [topics], on_assign=self._on_assign,
                         on_revoke=self._on_revoke, on_lost=self._on_lost)



class Feeder:
    """Produces one record per partition every `every` seconds from a thread, so that every assigned
    partition always has something to read (pauses show up as gaps in the arrivals)."""

    def __init__(self, topic, partitions, every=0.05):
        import threading
        self.stop = False
        self.count = 0
        p = Producer({"bootstrap.servers": BOOT, "linger.ms": 0})

        def run():
            while not self.stop:
                for part in range(partitions):
                    p.produce(topic, value=f"f-{self.count}".encode(), partition=part)
                    self.count += 1
                p.poll(0)
                time.sleep(every)
            p.flush(10)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def close(self):
        self.stop = True
        self.thread.join(20)


def longest_gap(member, since, until, partitions):
    """The longest time without a record from any partition in `partitions`, between `since` and `until`."""
    times = sorted(t for t, p in member.arrivals if since <= t <= until and p in partitions)
    points = [since] + times + [until]
    return max(b - a for a, b in zip(points, points[1:]))


def kip848_groups():
    """KIP-848 members of a 6-partition topic: a second, third and fourth member join one by one. At every
    join only the partitions that move are revoked from their owner, the partitions a member keeps never
    stop arriving for long, and a member whose assignment does not change keeps receiving records as if
    nothing happened (its longest gap stays near the no-rebalance baseline). Then the fourth leaves and its
    partitions are reassigned; every committed offset is where the members stopped."""
    topic, group = fresh("kip848"), fresh("kip848-g")
    create_topic(topic, 6)
    feeder = Feeder(topic, 6)
    try:
        members = [NewMember(group, topic)]
        pump(members, lambda: members[0].parts() == set(range(6)), 30, "the first member gets all six")
        unaffected = 0
        for n in (2, 3, 4):
            quiet_from = time.time()
            hold(members, 1.5, lambda: split(members, 6), "the split")
            baseline = max(longest_gap(m, quiet_from, time.time(), m.parts()) for m in members)
            before = [m.parts() for m in members]
            revoked_before = [len(m.revoked) for m in members]
            # Measured from when the new member exists: building a client blocks the thread that polls.
            members.append(NewMember(group, topic))
            joined = time.time()
            took = pump(members, lambda: split(members, 6), 30, f"a split among {n}")
            settled = time.time()
            hold(members, 1.0, lambda: split(members, 6), f"the {n}-way split")
            print(f"{n} members split {took:.2f}s after the join: {[sorted(m.parts()) for m in members]} "
                  f"(no-rebalance gap {baseline * 1000:.0f} ms)")
            for i, m in enumerate(members[:-1]):
                after = m.parts()
                moved = before[i] - after
                revoked = {p for call in m.revoked[revoked_before[i]:] for p in call}
                # Only the partitions that moved were revoked from their old owner (incremental).
                assert revoked == moved, f"member {i} revoked {revoked}, but only {moved} moved"
                assert after <= before[i], f"member {i} gained {after - before[i]} when a member joined"
                gap = longest_gap(m, joined, settled + 1.0, after)
                print(f"  member {i}: {sorted(before[i])} -> {sorted(after)}, longest pause on kept "
                      f"partitions {gap * 1000:.0f} ms")
                if not moved:
                    unaffected += 1
                    assert gap < max(0.4, 3 * baseline), f"member {i} kept everything but paused {gap:.2f}s"
                else:
                    assert gap < 1.5, f"member {i} paused {gap:.2f}s on partitions it kept"
        assert unaffected >= 1, "no member kept its whole assignment at any join"
        # The fourth leaves: its partitions go back to the others.
        fourth = members.pop()
        fourth.c.close()
        took = pump(members, lambda: split(members, 6), 30, "the others take the fourth's partitions")
        print(f"after the fourth left: {[sorted(m.parts()) for m in members]} in {took:.2f}s")
        feeder.close()
        hold(members, 1.0)
        positions = {}
        for m in members:
            m.c.commit(asynchronous=False)
            for tp in m.c.position([TopicPartition(topic, p) for p in sorted(m.parts())]):
                positions[tp.partition] = tp.offset
        committed = committed_offsets(group, topic, range(6))
        assert committed == [positions[p] for p in range(6)], (committed, positions)
        admin = AdminClient({"bootstrap.servers": BOOT})
        groups_listed = admin.list_consumer_groups().result(10)
        mine = [(str(g.type), str(g.state)) for g in groups_listed.valid if g.group_id == group]
        assert mine == [("ConsumerGroupType.CONSUMER", "ConsumerGroupState.STABLE")], (mine, groups_listed.errors)
        described = admin.describe_consumer_groups([group])[group].result(10)
        assert len(described.members) == 3, described
        for m in members:
            m.c.close()
    finally:
        feeder.close()


def kip848_restart():
    """Phase `first`: a KIP-848 member consumes and commits, then closes. Phase `after` (broker restarted
    on the same data): a new member of the group resumes at the commits."""
    phase, topic, group = ARGS[0], ARGS[1], ARGS[2]
    if phase == "first":
        create_topic(topic, 3)
        records = fill(topic, range(3), 20, "old")
        m = NewMember(group, topic)
        pump([m], lambda: set(m.values()) == records, 30, "the member reads every record")
        m.c.commit(asynchronous=False)
        assert committed_offsets(group, topic, range(3)) == [20, 20, 20]
        m.c.close()
    else:
        new = fill(topic, range(3), 5, "new")
        m = NewMember(group, topic)
        pump([m], lambda: set(m.values()) == new, 30, "a member after the restart reads only the new records")
        hold([m], 1.0)
        assert set(m.values()) == new, f"re-read committed records: {len(m.values())}"
        m.c.close()


def kip848_regex():
    """A member subscribed by regular expression gets a topic created after it joined."""
    prefix = fresh("rx")
    create_topic(f"{prefix}-a", 2)
    group = fresh("rx-g")
    m = NewMember(group, [f"^{prefix}-.*"])
    pump([m], lambda: {(tp.topic, tp.partition) for tp in m.c.assignment()} == {(f"{prefix}-a", 0),
                                                                             (f"{prefix}-a", 1)},
         30, "the first matching topic")
    create_topic(f"{prefix}-b", 1)
    records = fill(f"{prefix}-b", [0], 5, "b")
    took = pump([m], lambda: records <= set(m.values()), 60, "the topic created later, and its records")
    print(f"a topic created after the join was consumed after {took:.2f}s")
    m.c.close()


def kip848_member():
    """A lone KIP-848 member for kip848_kill, run as its own process: prints its assignments."""
    group, topic = ARGS[0], ARGS[1]
    m = NewMember(group, topic)
    last = None
    while True:
        m.poll(0.1)
        now = sorted(m.parts())
        if now != last:
            print("ASSIGNED " + ",".join(map(str, now)), flush=True)
            last = now


def kip848_kill():
    """A KIP-848 member killed with SIGKILL is fenced after the broker's session timeout (6 s in this
    test's broker) and the survivor gets its partitions."""
    killed_member_is_replaced("kip848_member", lambda group, topic: NewMember(group, topic))


def bench_groups():
    """For `cargo xtask bench`: ARGS[0] is `classic` (librdkafka's defaults: the classic protocol with its
    eager range assignor) or `consumer` (KIP-848). Five members join a 12-partition topic at once; then a
    sixth joins. Prints one JSON line: seconds until the five share the partitions, seconds until the six
    do, the longest pause any of the five saw on its partitions while the sixth joined, the same for the
    members whose assignment did not change, and the longest gap with no rebalance going on."""
    import json
    proto = ARGS[0]
    topic, group = fresh(f"bench-{proto}"), fresh(f"bench-{proto}-g")
    create_topic(topic, 12)
    feeder = Feeder(topic, 12)
    extra = {"fetch.wait.max.ms": 100}

    def member():
        if proto == "consumer":
            return NewMember(group, topic, extra)
        return Member(group, topic, {"session.timeout.ms": 45000, "heartbeat.interval.ms": 3000, **extra})

    try:
        start = time.time()
        members = [member() for _ in range(5)]
        pump(members, lambda: split(members, 12), 60, "five members sharing twelve partitions")
        stable = time.time() - start
        quiet_from = time.time()
        hold(members, 2.0, lambda: split(members, 12), "the five-way split")
        baseline = max(longest_gap(m, quiet_from, time.time(), m.parts()) for m in members)
        before = [m.parts() for m in members]
        sixth = member()
        joined = time.time()
        join = pump(members + [sixth], lambda: split(members + [sixth], 12), 60, "six members sharing twelve")
        settled = time.time()
        hold(members + [sixth], 1.0)
        pauses, unaffected = [], []
        for i, m in enumerate(members):
            gap = longest_gap(m, joined, settled + 1.0, m.parts())
            pauses.append(gap)
            if m.parts() == before[i]:
                unaffected.append(gap)
        print(json.dumps({"stable_s": stable, "join_s": join, "max_pause_s": max(pauses),
                          "max_pause_unaffected_s": max(unaffected) if unaffected else None,
                          "unaffected": len(unaffected), "baseline_gap_s": baseline}))
        for m in members + [sixth]:
            m.c.close()
    finally:
        feeder.close()


def kip848_static():
    """KIP-848 static membership: a member with group.instance.id that closes (a -2 heartbeat: a temporary
    leave) and comes back within the session timeout gets its partitions back under a new member id, and
    the other member sees no revocation and keeps its assignment."""
    topic, group = fresh("static848"), fresh("static848-g")
    create_topic(topic, 4)
    fill(topic, range(4), 10, "r")

    def static(name):
        return NewMember(group, topic, {"group.instance.id": name})

    a = static("static-a")
    pump([a], lambda: a.parts() == {0, 1, 2, 3}, 30, "a gets all four partitions")
    b = static("static-b")
    pump([a, b], lambda: split([a, b], 4), 30, "a split between a and b")
    hold([a, b], 1.5, lambda: split([a, b], 4), "the split")
    mine, theirs, calls = b.parts(), a.parts(), a.callbacks()
    old_id = b.c.memberid()
    b.c.close()
    new = static("static-b")
    took = pump([a, new], lambda: new.parts() == mine, 30, f"the restarted member gets {sorted(mine)} back")
    hold([a, new], 2.0, lambda: a.parts() == theirs and a.callbacks() == calls,
         f"a keeps {sorted(theirs)} without a rebalance")
    assert new.c.memberid() != old_id, "the restarted member kept its member id"
    print(f"static member restarted: {sorted(mine)} back after {took:.2f}s; the other kept {sorted(theirs)}")
    a.c.close()
    new.c.close()


def cluster_roundtrip():
    """Through BOOT alone: N keyed records to a multi-partition topic whose leaders are spread over the
    cluster's brokers, then every record back from every partition (the client finds each leader itself).
    With ROUND r (default 0) the topic already holds rounds 0..r-1 of this scenario: they are read too."""
    topic, n = ARGS[0], int(ARGS[1])
    rnd = int(ARGS[2]) if len(ARGS) > 2 else 0
    md = AdminClient({"bootstrap.servers": BOOT}).list_topics(topic, timeout=10)
    parts = md.topics[topic].partitions
    assert not md.topics[topic].error and parts, f"metadata of {topic}: {md.topics[topic].error}"
    msgs = [(f"k{i}".encode(), f"r{rnd}-v{i}".encode(), None, None) for i in range(n)]
    errors = produce_confluent(topic, msgs, {"acks": "all"})
    assert not errors, f"{len(errors)} delivery errors, e.g. {errors[:3]}"
    got = consume_confluent(topic, n * (rnd + 1), partitions=sorted(parts), timeout=60)
    values = sorted(m.value() for m in got)
    want = sorted(f"r{r}-v{i}".encode() for r in range(rnd + 1) for i in range(n))
    assert values == want, "the records read back differ from the ones produced"
    used = sorted({m.partition() for m in got})
    assert used == sorted(parts), f"records landed only in partitions {used} of {sorted(parts)}"
    leaders = sorted({p.leader for p in parts.values()})
    print(f"{len(got)} records over partitions {used}, led by brokers {leaders}, via {BOOT} only")


def cluster_group():
    """Through BOOT alone: a consumer group (classic, or KIP-848 with "consumer") reads a topic whose
    partitions are led by different brokers, commits, and a second member of the group resumes from the
    commits: it gets exactly the records produced after them. The coordinator is the leader of the group's
    __consumer_offsets partition, wherever that is."""
    topic, n, protocol = ARGS[0], int(ARGS[1]), ARGS[2]
    group = fresh(f"cluster-{protocol}")

    def member_reads(want, linger):
        """A new member of the group reads until it has `want` records, then `linger` seconds more."""
        if protocol == "consumer":
            c = Consumer({"group.protocol": "consumer", "bootstrap.servers": BOOT, "group.id": group,
                          "auto.offset.reset": "earliest", "enable.auto.commit": False})
            c.subscribe([topic])
        else:
            c = group_consumer(group, topic)
        got = []
        deadline = time.time() + 60
        while len(got) < want and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m)
        end = time.time() + linger
        while time.time() < end:
            m = c.poll(0.2)
            if m is not None and not m.error():
                got.append(m)
        c.commit(asynchronous=False)
        c.close()
        return got

    first = [(f"k{i}".encode(), f"a{i}".encode(), None, None) for i in range(n)]
    assert not produce_confluent(topic, first, {"acks": "all"})
    got = member_reads(n, 0)
    assert len(got) == n, f"the first member read {len(got)} of {n}"
    second = [(f"k{i}".encode(), f"b{i}".encode(), None, None) for i in range(n)]
    assert not produce_confluent(topic, second, {"acks": "all"})
    # A little longer: nothing from before the commits may come back.
    values = sorted(m.value() for m in member_reads(n, 2))
    assert values == sorted(v for _, v, _, _ in second), f"the resumed member read {len(values)} records: {values[:5]}"
    print(f"{protocol} group {group}: {n} read and committed, then exactly the {n} new ones, via {BOOT} only")


def replicated_produce():
    """For replication.rs: an idempotent acks=all confluent-kafka producer writes N numbered values
    ("v000000", ...) to partition P of TOPIC. Once the first SIGNAL_AT are acknowledged it prints "SIGNAL"
    (the test then kills the partition's leader) and goes on with the rest, paced at about one per
    millisecond so that they straddle the failover. Every delivery report goes to OUT, one line each:
    "ACK value offset" or "ERR value error"."""
    topic, part, n, signal_at, out = ARGS[0], int(ARGS[1]), int(ARGS[2]), int(ARGS[3]), ARGS[4]
    p = Producer({"bootstrap.servers": BOOT, "acks": "all", "enable.idempotence": True, "linger.ms": 5,
                  "message.timeout.ms": 60000, "retry.backoff.ms": 100})
    reports = []

    def report(err, msg):
        reports.append((msg.value().decode(), err, msg.offset()))

    def acked():
        return sum(1 for _, e, _ in reports if e is None)

    signalled = False
    for i in range(n):
        p.produce(topic, value=f"v{i:06d}".encode(), partition=part, on_delivery=report)
        p.poll(0)
        if i + 1 == signal_at:
            deadline = time.time() + 30
            while acked() < signal_at and time.time() < deadline:
                p.poll(0.05)
            assert acked() >= signal_at, f"only {acked()} of the first {signal_at} acknowledged in 30 s"
            print(f"SIGNAL {acked()} acknowledged", flush=True)
            signalled = True
        elif signalled:
            time.sleep(0.001)
    left = p.flush(90)
    with open(out, "w") as f:
        for value, err, offset in reports:
            f.write(f"ACK {value} {offset}\n" if err is None else f"ERR {value} {err.str()}\n")
    errors = len(reports) - acked()
    print(f"{acked()} of {n} acknowledged, {errors} delivery errors, {left} still queued at the end", flush=True)


SCENARIOS = {f.__name__: f for f in [roundtrip, partitions, offsets, admin, admin_apis, negotiated,
                                     kafka_python_negotiated, size_limits, produce_n, consume_n, tls,
                                     topic_configs, alive, groups, group_restart, group_reset,
                                     group_cooperative, group_first_record, group_kafka_python,
                                     group_member, group_kill, group_static, group_five, kip848_groups,
                                     kip848_restart, kip848_regex, kip848_member, kip848_kill, kip848_static,
                                     bench_groups, cluster_roundtrip, cluster_group, replicated_produce]}
SCENARIOS["produce"] = produce_n
SCENARIOS["consume"] = consume_n

if __name__ == "__main__":
    SCENARIOS[NAME]()
    print(f"OK {NAME}")
