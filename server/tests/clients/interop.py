"""Real-client scenarios against a kzero broker, run by server/tests/it/clients.rs.

Usage: interop.py BOOTSTRAP SCENARIO [ARGS...]; prints "OK SCENARIO" on success, exits non-zero otherwise.
Every wait is bounded. Clients: confluent-kafka (librdkafka) and kafka-python, unmodified.
"""
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


SCENARIOS = {f.__name__: f for f in [roundtrip, partitions, offsets, admin, size_limits, produce_n, consume_n, tls,
                                     topic_configs, alive, groups]}
SCENARIOS["produce"] = produce_n
SCENARIOS["consume"] = consume_n

if __name__ == "__main__":
    SCENARIOS[NAME]()
    print(f"OK {NAME}")
