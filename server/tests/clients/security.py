"""Real-client security scenarios against a kzero broker, run by server/tests/it/security.rs.

Usage: security.py SCENARIO JSON; JSON holds the scenario's addresses and file paths. Prints "OK SCENARIO" on
success, exits non-zero otherwise. Every wait is bounded. Clients: confluent-kafka (librdkafka) and kafka-python,
unmodified. The broker runs with `[sasl]` (bootstrap user admin/admin-secret, a super user) and the authorizer
enabled, so every other principal needs ACLs, which these scenarios create as admin through both admin clients.
"""
import json
import logging
import os
import sys
import time

import kafka
import kafka.errors as kerr
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AdminClient,
                                   NewTopic, ResourcePatternType, ResourceType, ScramCredentialInfo,
                                   ScramMechanism, UserScramCredentialUpsertion)
from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType,
                         KafkaAdminClient, ResourcePattern, ResourcePatternFilter)
from kafka.admin import ResourceType as KResourceType

NAME = sys.argv[1]
P = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
ADMIN = ("admin", "admin-secret")
MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
SCRAM_FAILED = "Authentication failed during authentication due to invalid credentials with SASL mechanism {}"
PLAIN_FAILED = "Authentication failed: Invalid username or password"


# ----------------------------------------------------------------------------------------------------------
# Client configurations.

def rdk(addr, mechanism=None, user=None, ca=None, extra=None):
    """A librdkafka configuration: SASL when `mechanism` is given, TLS when `ca` is given."""
    conf = {"bootstrap.servers": addr, "socket.timeout.ms": 10000}
    if mechanism:
        conf.update({"security.protocol": "SASL_SSL" if ca else "SASL_PLAINTEXT", "sasl.mechanisms": mechanism,
                     "sasl.username": user[0], "sasl.password": user[1]})
    elif ca:
        conf["security.protocol"] = "SSL"
    if ca:
        conf.update({"ssl.ca.location": ca, "ssl.endpoint.identification.algorithm": "none"})
    conf.update(extra or {})
    return conf


def kpy(addr, mechanism=None, user=None, ca=None, extra=None):
    """A kafka-python configuration, the same choices as `rdk`."""
    conf = {"bootstrap_servers": addr}
    if mechanism:
        conf.update({"security_protocol": "SASL_SSL" if ca else "SASL_PLAINTEXT", "sasl_mechanism": mechanism,
                     "sasl_plain_username": user[0], "sasl_plain_password": user[1]})
    elif ca:
        conf["security_protocol"] = "SSL"
    if ca:
        conf.update({"ssl_cafile": ca, "ssl_check_hostname": False})
    conf.update(extra or {})
    return conf


def admin_rdk():
    return AdminClient(rdk(P["sasl"], "SCRAM-SHA-512", ADMIN))


def admin_kpy():
    return KafkaAdminClient(**kpy(P["sasl"], "SCRAM-SHA-256", ADMIN))


# ----------------------------------------------------------------------------------------------------------
# Produce and consume, reporting exactly what happened.

def produce_rdk(conf, topic, values, timeout=20):
    """Produces `values`; returns one delivery outcome per value, in order: None (delivered) or the error code."""
    outcome = {}
    p = Producer(dict(conf, **{"linger.ms": 5, "message.timeout.ms": timeout * 1000}))
    for i, v in enumerate(values):
        p.produce(topic, value=v, on_delivery=lambda e, m, i=i: outcome.__setitem__(i, e.code() if e else None))
    left = p.flush(timeout + 10)
    assert left == 0, f"{left} messages still queued"
    return [outcome[i] for i in range(len(values))]


def produce_ok_rdk(conf, topic, values):
    got = produce_rdk(conf, topic, values)
    assert got == [None] * len(values), f"delivery to {topic}: {[KafkaError(c).name() if c else None for c in got]}"


def consume_rdk(conf, topic, count, timeout=20):
    """Reads partition 0 of `topic` from offset 0 (assigned, no group) until `count` records: their values."""
    c = Consumer(dict(conf, **{"group.id": "open-assign", "enable.auto.commit": False,
                               "enable.partition.eof": False}))
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.time() + timeout
    while len(got) < count and time.time() < deadline:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            c.close()
            raise AssertionError(f"consuming {topic}: {m.error()}")
        assert m.offset() == len(got), f"offset {m.offset()} at {len(got)} in {topic}"
        got.append(m.value())
    c.close()
    assert len(got) == count, f"consumed {len(got)} of {count} from {topic}"
    return got


def consume_error_rdk(conf, topic, timeout=15):
    """Subscribes to `topic` (in a group everyone may join) and polls until the first error: its code. A record
    fails the scenario. (librdkafka reports a topic it may not describe only for subscriptions: an assigned
    partition of such a topic just waits for its leader.)"""
    c = Consumer(dict(conf, **{"group.id": f"open-{topic}", "enable.auto.commit": False,
                               "enable.partition.eof": False, "auto.offset.reset": "earliest"}))
    c.subscribe([topic])
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            assert m.error(), f"a record of {topic} was delivered: offset {m.offset()} {m.value()!r}"
            return m.error().code()
        raise AssertionError(f"no error while consuming {topic} for {timeout} s")
    finally:
        c.close()


def produce_kpy(conf, topic, values):
    kp = kafka.KafkaProducer(**conf, acks="all")
    offsets = [kp.send(topic, value=v).get(timeout=20).offset for v in values]
    kp.close(timeout=10)
    return offsets


def consume_kpy(conf, topic, count, timeout=20):
    kc = kafka.KafkaConsumer(**conf, group_id=None, auto_offset_reset="earliest", consumer_timeout_ms=timeout * 1000)
    kc.assign([kafka.TopicPartition(topic, 0)])
    kc.seek_to_beginning()
    got = []
    for m in kc:
        assert m.offset == len(got), f"kafka-python: offset {m.offset} at {len(got)} in {topic}"
        got.append(m.value)
        if len(got) >= count:
            break
    kc.close()
    assert len(got) == count, f"kafka-python consumed {len(got)} of {count} from {topic}"
    return got


def topics_seen(conf):
    """The topic names a librdkafka client sees in an all-topics Metadata request."""
    md = AdminClient(conf).list_topics(timeout=10)
    return set(md.topics)


def create_topics(names):
    a = admin_rdk()
    fs = a.create_topics([NewTopic(t, num_partitions=1, replication_factor=1) for t in names],
                                   operation_timeout=10)
    for t, f in fs.items():
        f.result(timeout=15)


def watermarks(conf, topic):
    c = Consumer(dict(conf, **{"group.id": "open-assign"}))
    low_high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.close()
    return low_high


def open_assign_group():
    """librdkafka asks for the coordinator of its `group.id` even when it only assigns partitions, which needs
    DESCRIBE on the group: every principal may use the groups named `open-...` (a wildcard principal and a
    PREFIXED pattern)."""
    create_acls_rdk([allow("User:*", ResourceType.GROUP, "open-", AclOperation.READ, ResourcePatternType.PREFIXED)])


def create_acls_rdk(bindings):
    a = admin_rdk()
    fs = a.create_acls(bindings, request_timeout=10)
    for b, f in fs.items():
        assert f.result(timeout=15) is None, b


def create_acls_kpy(acls):
    a = admin_kpy()
    result = a.create_acls(acls)
    a.close()
    assert result["failed"] == [] and len(result["succeeded"]) == len(acls), result


def allow(principal, restype, name, op, pattern=ResourcePatternType.LITERAL):
    return AclBinding(restype, name, pattern, principal, "*", op, AclPermissionType.ALLOW)


def code_name(code):
    return KafkaError(code).name() if code is not None else None


# ----------------------------------------------------------------------------------------------------------
# Scenarios.

def sasl_roundtrip():
    """Both clients, both SASL listeners, every mechanism, as admin (a super user) and as alice, a user created
    through AlterUserScramCredentials and described through DescribeUserScramCredentials."""
    a = admin_rdk()
    # API 51: one user, two mechanisms (two requests: Kafka refuses one user twice in a request).
    for mechanism, iterations in [(ScramMechanism.SCRAM_SHA_256, 8192), (ScramMechanism.SCRAM_SHA_512, 4096)]:
        fs = a.alter_user_scram_credentials(
            [UserScramCredentialUpsertion("alice", ScramCredentialInfo(mechanism, iterations), b"alice-secret")])
        assert set(fs) == {"alice"}, fs
        assert fs["alice"].result(timeout=15) is None
    # API 50: the new user, then every user.
    desc = a.describe_user_scram_credentials(["alice"])["alice"].result(timeout=15)
    infos = sorted((i.mechanism, i.iterations) for i in desc.scram_credential_infos)
    assert infos == [(ScramMechanism.SCRAM_SHA_256, 8192), (ScramMechanism.SCRAM_SHA_512, 4096)], infos
    every = a.describe_user_scram_credentials().result(timeout=15)
    assert sorted(every) == ["admin", "alice"], sorted(every)
    admin_infos = sorted((i.mechanism, i.iterations) for i in every["admin"].scram_credential_infos)
    assert admin_infos == [(ScramMechanism.SCRAM_SHA_256, 4096), (ScramMechanism.SCRAM_SHA_512, 4096)], admin_infos
    # kafka-python describes the same.
    ka = admin_kpy()
    kdesc = ka.describe_user_scram_credentials(["alice"])
    ka.close()
    assert kdesc["alice"]["error"] is None, kdesc
    assert sorted((int(c["mechanism"]), c["iterations"]) for c in kdesc["alice"]["credential_infos"]) == \
        [(1, 8192), (2, 4096)], kdesc

    alice = ("alice", "alice-secret")
    open_assign_group()
    create_acls_rdk([allow("User:alice", ResourceType.TOPIC, "sasl-", op, ResourcePatternType.PREFIXED)
                     for op in (AclOperation.READ, AclOperation.WRITE)])
    listeners = [("plain", P["sasl"], None), ("ssl", P["sasl_ssl"], P["ca"])]
    combos = [(client, proto, addr, ca, mech) for client in ("rdk", "kpy") for proto, addr, ca in listeners
              for mech in MECHANISMS]
    create_topics([f"sasl-{client}-{proto}-{mech}" for client, proto, _, _, mech in combos])

    # Metadata names the listener the client came in through.
    for proto, addr, ca in listeners:
        md = AdminClient(rdk(addr, "SCRAM-SHA-256", alice, ca)).list_topics(timeout=10)
        seen = [f"{b.host}:{b.port}" for b in md.brokers.values()]
        assert seen == [addr], f"{proto}: brokers {seen}, the client came in through {addr}"

    for i, (client, proto, addr, ca, mech) in enumerate(combos):
        topic = f"sasl-{client}-{proto}-{mech}"
        writer, reader = (ADMIN, alice) if i % 2 == 0 else (alice, ADMIN)
        values = [f"{topic} {writer[0]} {j}".encode() for j in range(10)]
        if client == "rdk":
            produce_ok_rdk(rdk(addr, mech, writer, ca), topic, values)
            got = consume_rdk(rdk(addr, mech, reader, ca), topic, 10)
        else:
            assert produce_kpy(kpy(addr, mech, writer, ca), topic, values) == list(range(10))
            got = consume_kpy(kpy(addr, mech, reader, ca), topic, 10)
        assert got == values, f"{topic}: {got}"
        print(f"{client} {proto} {mech}: {writer[0]} produced, {reader[0]} consumed", flush=True)


def auth_errors_rdk(conf, timeout=10):
    """Connects a librdkafka client and waits for an authentication error: every error reported, and whether a
    Metadata request got through."""
    errors = []
    conf = dict(conf, error_cb=lambda e: errors.append(e))
    a = AdminClient(conf)
    deadline = time.time() + timeout
    while time.time() < deadline and not any(e.code() == KafkaError._AUTHENTICATION for e in errors):
        a.poll(0.1)
    try:
        a.list_topics(timeout=1)
        got_metadata = True
    except KafkaException:
        got_metadata = False
    return errors, got_metadata


def expect_rdk_refusal(conf, message, what):
    errors, got_metadata = auth_errors_rdk(conf)
    assert not got_metadata, f"{what}: Metadata was answered"
    auth = [e.str() for e in errors if e.code() == KafkaError._AUTHENTICATION]
    assert auth and all(message in s for s in auth), f"{what}: expected {message!r}, got {[e.str() for e in errors]}"


class Captured(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def expect_kpy_refusal(conf, expected_error, message, what):
    """kafka-python cannot bootstrap, and the broker's error it reports for its failed connections is
    `expected_error` with `message`. (kafka-python retries until its bootstrap timeout, then raises
    KafkaTimeoutError. When the broker's answer and its close arrive together, kafka-python usually sees only the
    close and reports a bare disconnection; Kafka delays the close after a failed authentication by
    `connection.failed.authentication.delay.ms`, 100 ms by default, so clients read the answer first.)"""
    captured = Captured()
    logging.getLogger("kafka").addHandler(captured)
    logging.getLogger("kafka").setLevel(logging.INFO)
    try:
        a = KafkaAdminClient(**conf, request_timeout_ms=2000, bootstrap_timeout_ms=1500, reconnect_backoff_ms=10,
                             reconnect_backoff_max_ms=50)
        topics = a.list_topics()
        a.close()
        raise AssertionError(f"{what}: kafka-python listed topics {topics}")
    except (kerr.KafkaTimeoutError, kerr.SaslAuthenticationFailedError, kerr.UnsupportedSaslMechanismError) as e:
        raised = f"{type(e).__name__}: {e}"
    finally:
        logging.getLogger("kafka").removeHandler(captured)
    reported = [s for s in captured.lines if expected_error in s]
    assert reported and all(message in s for s in reported), \
        f"{what}: expected {expected_error} with {message!r}; kafka-python raised {raised} and said " \
        f"{(reported or captured.lines)[-10:]}"


def sasl_refusals():
    """Wrong password, unknown user and unknown mechanism, through both clients; each refused with the
    broker's own error. Every case runs; the failed ones are reported together at the end."""
    failures = []

    def case(check, *args):
        try:
            check(*args)
            print(f"{args[-1]}: refused as expected", flush=True)
        except AssertionError as e:
            failures.append(str(e))

    for mech in MECHANISMS:
        message = PLAIN_FAILED if mech == "PLAIN" else SCRAM_FAILED.format(mech)
        for user, what in [(("admin", "not-the-password"), "wrong password"), (("nobody", "secret"), "unknown user")]:
            case(expect_rdk_refusal, rdk(P["sasl"], mech, user), message, f"librdkafka {mech} {what}")
            case(expect_kpy_refusal, kpy(P["sasl"], mech, user), "SaslAuthenticationFailedError", message,
                 f"kafka-python {mech} {what}")
    # A mechanism the broker does not enable: librdkafka reports the handshake's error and the broker's list.
    def unsupported_rdk(what):
        errors, got_metadata = auth_errors_rdk(rdk(P["sasl"], "OAUTHBEARER", ADMIN, extra={
            "enable.sasl.oauthbearer.unsecure.jwt": True, "sasl.oauthbearer.config": "principal=admin"}))
        assert not got_metadata, f"{what}: Metadata was answered"
        said = [e.str() for e in errors if e.code() == KafkaError._AUTHENTICATION]
        assert said and all("Unsupported SASL mechanism" in s and "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512" in s
                            for s in said), f"{what}: {[e.str() for e in errors]}"

    case(unsupported_rdk, "librdkafka OAUTHBEARER")

    class Token:
        def token(self):
            return "unused"

    case(expect_kpy_refusal, kpy(P["sasl"], "OAUTHBEARER", ADMIN, extra={"sasl_oauth_token_provider": Token()}),
         "UnsupportedSaslMechanismError", "", "kafka-python OAUTHBEARER")
    assert not failures, "\n".join(failures)


def steady_producer():
    """Produces one record every 20 ms as admin (SCRAM-SHA-256) until the file P["stop"] exists; every record
    must be delivered and read back. Prints READY after the first delivery."""
    conf = rdk(P["sasl"], "SCRAM-SHA-256", ADMIN)
    errors = []
    delivered = []
    p = Producer(dict(conf, **{"linger.ms": 0, "error_cb": lambda e: errors.append(e.str())}))
    sent = 0
    ready = False
    deadline = time.time() + 120
    while not os.path.exists(P["stop"]) and time.time() < deadline:
        p.produce("steady", value=f"steady {sent}".encode(),
                  on_delivery=lambda e, m: delivered.append((e.code() if e else None, m.offset())))
        sent += 1
        p.poll(0)
        time.sleep(0.02)
        if not ready and delivered:
            print("READY", flush=True)
            ready = True
    assert p.flush(30) == 0
    assert errors == [], errors
    assert len(delivered) == sent and all(e is None for e, _ in delivered), delivered
    assert sorted(o for _, o in delivered) == list(range(sent))
    got = consume_rdk(conf, "steady", sent)
    assert got == [f"steady {i}".encode() for i in range(sent)]
    print(f"steady: {sent} records produced and read back", flush=True)


def acls():
    """Topic, prefixed and literal, group and cluster ACLs for bob, created by admin through both admin clients."""
    a = admin_rdk()
    fs = a.alter_user_scram_credentials(
        [UserScramCredentialUpsertion("bob", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096), b"bob-secret")])
    fs["bob"].result(timeout=15)
    admin = rdk(P["sasl"], "SCRAM-SHA-256", ADMIN)
    bob = rdk(P["sasl"], "SCRAM-SHA-256", ("bob", "bob-secret"))
    bob_kpy = kpy(P["sasl"], "SCRAM-SHA-256", ("bob", "bob-secret"))
    create_topics(["a", "b", "logs-x", "logs-secret"])
    open_assign_group()
    for t in ("a", "b"):
        produce_ok_rdk(admin, t, [f"{t}-{i}".encode() for i in range(5)])

    # Before any ACL bob sees no topic at all.
    assert topics_seen(bob) == set(), topics_seen(bob)

    # READ on `a` (confluent-kafka's admin); WRITE on the prefix `logs-` and a DENY of WRITE on `logs-secret`
    # (kafka-python's admin).
    create_acls_rdk([allow("User:bob", ResourceType.TOPIC, "a", AclOperation.READ)])
    create_acls_kpy([
        ACL("User:bob", "*", ACLOperation.WRITE, ACLPermissionType.ALLOW,
            ResourcePattern(KResourceType.TOPIC, "logs-", ACLResourcePatternType.PREFIXED)),
        ACL("User:bob", "*", ACLOperation.WRITE, ACLPermissionType.DENY,
            ResourcePattern(KResourceType.TOPIC, "logs-secret", ACLResourcePatternType.LITERAL)),
    ])
    # Both admin clients list what was created.
    listed = a.describe_acls(AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, "User:bob", None,
                                              AclOperation.ANY, AclPermissionType.ANY)).result(timeout=15)
    assert sorted((b.name, b.resource_pattern_type.name, b.operation.name, b.permission_type.name) for b in listed) == [
        ("a", "LITERAL", "READ", "ALLOW"), ("logs-", "PREFIXED", "WRITE", "ALLOW"),
        ("logs-secret", "LITERAL", "WRITE", "DENY")], listed
    ka = admin_kpy()
    klisted, kerror = ka.describe_acls(ACLFilter("User:bob", None, ACLOperation.ANY, ACLPermissionType.ANY,
                                                 ResourcePatternFilter(KResourceType.TOPIC, "logs-secret",
                                                                       ACLResourcePatternType.MATCH)))
    ka.close()
    assert kerror is kerr.NoError, kerror
    assert sorted((x.resource_pattern.resource_name, x.permission_type.name) for x in klisted) == [
        ("logs-", "ALLOW"), ("logs-secret", "DENY")], klisted

    # bob may not list ACLs (DESCRIBE on the cluster; librdkafka drops DescribeAcls' error code, so
    # kafka-python is asked) nor create them (ALTER on the cluster).
    ka = KafkaAdminClient(**bob_kpy)
    try:
        ka.describe_acls(ACLFilter(None, None, ACLOperation.ANY, ACLPermissionType.ANY,
                                   ResourcePatternFilter(KResourceType.ANY, None, ACLResourcePatternType.ANY)))
        raise AssertionError("bob described the ACLs")
    except kerr.ClusterAuthorizationFailedError:
        pass
    finally:
        ka.close()
    bob_admin = AdminClient(bob)
    f = bob_admin.create_acls([allow("User:bob", ResourceType.TOPIC, "b", AclOperation.READ)])
    try:
        list(f.values())[0].result(timeout=15)
        raise AssertionError("bob created an ACL")
    except KafkaException as e:
        assert e.args[0].code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED, e

    # Topics: READ on `a` (implying DESCRIBE) but nothing on `b`.
    assert consume_rdk(bob, "a", 5) == [f"a-{i}".encode() for i in range(5)]
    assert consume_kpy(bob_kpy, "a", 5) == [f"a-{i}".encode() for i in range(5)]
    assert code_name(consume_error_rdk(bob, "b")) == "TOPIC_AUTHORIZATION_FAILED"
    ka = KafkaAdminClient(**bob_kpy)
    described = ka.describe_topics(["a", "b"])
    ka.close()
    assert sorted((t["name"], t["error_code"]) for t in described) == [("a", 0), ("b", 29)], described
    # Metadata's authorized operations: READ, and the DESCRIBE it implies.
    ops = [t["authorized_operations"] for t in described if t["name"] == "a"][0]
    assert sorted(ops) == ["DESCRIBE", "READ"], described
    assert topics_seen(bob) == {"a", "logs-x", "logs-secret"}, topics_seen(bob)
    md = AdminClient(bob).list_topics(topic="b", timeout=10)
    assert md.topics["b"].error is not None and md.topics["b"].error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, \
        md.topics["b"].error
    # READ does not allow WRITE.
    assert [code_name(c) for c in produce_rdk(bob, "a", [b"nope"])] == ["TOPIC_AUTHORIZATION_FAILED"]

    # The PREFIXED allow and the LITERAL deny: DENY wins on `logs-secret` only.
    produce_ok_rdk(bob, "logs-x", [b"x0", b"x1"])
    assert [code_name(c) for c in produce_rdk(bob, "logs-secret", [b"s0", b"s1"])] == \
        ["TOPIC_AUTHORIZATION_FAILED"] * 2
    try:
        produce_kpy(bob_kpy, "logs-secret", [b"s2"])
        raise AssertionError("kafka-python wrote to logs-secret as bob")
    except kerr.TopicAuthorizationFailedError:
        pass
    assert produce_kpy(bob_kpy, "logs-x", [b"x2"]) == [2]
    assert consume_rdk(admin, "logs-x", 3) == [b"x0", b"x1", b"x2"]
    assert watermarks(admin, "logs-secret") == (0, 0)
    print("topic ACLs: ok", flush=True)

    # Groups: nothing on the group, then DESCRIBE only (FindCoordinator passes, joining and committing do not),
    # then READ.
    def group_consumer():
        return Consumer(dict(bob, **{"group.id": "g-bob", "enable.auto.commit": False,
                                     "auto.offset.reset": "earliest", "session.timeout.ms": 6000}))

    def subscribe_error():
        c = group_consumer()
        c.subscribe(["a"])
        deadline = time.time() + 15
        try:
            while time.time() < deadline:
                m = c.poll(0.2)
                if m is None:
                    continue
                assert m.error(), f"bob consumed {m.value()!r} in group g-bob without READ on it"
                return code_name(m.error().code()), m.error().str()
            raise AssertionError("no error joining g-bob")
        finally:
            c.close()

    def commit_error():
        c = group_consumer()
        try:
            got = c.commit(offsets=[TopicPartition("a", 0, 3)], asynchronous=False)
            errors = [tp.error.code() for tp in got if tp.error is not None]
            assert errors, f"bob committed to g-bob: {got}"
            return errors[0]
        except KafkaException as e:
            return e.args[0].code()
        finally:
            c.close()

    # Without DESCRIBE on the group FindCoordinator is refused, so a commit never finds its coordinator.
    got = subscribe_error()
    assert got == ("GROUP_AUTHORIZATION_FAILED", "FindCoordinator response error: Group authorization failed."), got
    assert code_name(commit_error()) == "_WAIT_COORD"
    # With DESCRIBE only, JoinGroup and OffsetCommit (READ on the group) are refused.
    create_acls_rdk([allow("User:bob", ResourceType.GROUP, "g-bob", AclOperation.DESCRIBE)])
    got = subscribe_error()
    assert got == ("GROUP_AUTHORIZATION_FAILED", "JoinGroup failed: Broker: Group authorization failed"), got
    got = code_name(commit_error())
    assert got == "GROUP_AUTHORIZATION_FAILED", got
    create_acls_kpy([ACL("User:bob", "*", ACLOperation.READ, ACLPermissionType.ALLOW,
                         ResourcePattern(KResourceType.GROUP, "g-bob", ACLResourcePatternType.LITERAL))])
    c = group_consumer()
    c.subscribe(["a"])
    got = []
    deadline = time.time() + 20
    while len(got) < 5 and time.time() < deadline:
        m = c.poll(0.2)
        if m is None:
            continue
        assert not m.error(), m.error()
        got.append(m.value())
    assert got == [f"a-{i}".encode() for i in range(5)], got
    c.commit(asynchronous=False)
    committed = c.committed([TopicPartition("a", 0)], timeout=10)
    c.close()
    assert [(tp.offset, tp.error) for tp in committed] == [(5, None)], committed
    print("group ACLs: ok", flush=True)

    # The cluster: CreateTopics needs CREATE on the cluster or on the topic.
    def create_as_bob(name):
        bob_admin = AdminClient(bob)
        f = bob_admin.create_topics([NewTopic(name, 1, 1)], operation_timeout=10)[name]
        try:
            f.result(timeout=15)
            return None
        except KafkaException as e:
            return e.args[0].code()

    assert code_name(create_as_bob("bob-new")) == "TOPIC_AUTHORIZATION_FAILED"
    create_acls_rdk([allow("User:bob", ResourceType.TOPIC, "bob-own", AclOperation.CREATE)])
    assert create_as_bob("bob-own") is None
    assert code_name(create_as_bob("bob-new")) == "TOPIC_AUTHORIZATION_FAILED"
    create_acls_kpy([ACL("User:bob", "*", ACLOperation.CREATE, ACLPermissionType.ALLOW,
                         ResourcePattern(KResourceType.CLUSTER, "kafka-cluster", ACLResourcePatternType.LITERAL))])
    assert create_as_bob("bob-new") is None
    assert {"bob-own", "bob-new"} <= topics_seen(admin), topics_seen(admin)
    print("cluster ACLs: ok", flush=True)


def mtls():
    """The SSL listener requires a certificate from the CA; client1's subject maps to User:client1, which alone
    may use topic `mtls`."""
    create_topics(["mtls"])
    open_assign_group()
    create_acls_rdk([allow("User:client1", ResourceType.TOPIC, "mtls", op)
                     for op in (AclOperation.READ, AclOperation.WRITE)])

    def cert(name):
        return {"ssl.certificate.location": P[f"{name}_cert"], "ssl.key.location": P[f"{name}_key"]}

    client1 = rdk(P["ssl"], ca=P["ca"], extra=cert("client1"))
    values = [f"mtls {i}".encode() for i in range(10)]
    produce_ok_rdk(client1, "mtls", values)
    assert consume_rdk(client1, "mtls", 10) == values
    assert topics_seen(client1) == {"mtls"}
    k1 = kpy(P["ssl"], ca=P["ca"], extra={"ssl_certfile": P["client1_cert"], "ssl_keyfile": P["client1_key"]})
    assert produce_kpy(k1, "mtls", [b"kp"]) == [10]
    assert consume_kpy(k1, "mtls", 11) == values + [b"kp"]
    print("client1: produced and consumed", flush=True)

    # client2 has a certificate from the same CA but no ACL.
    client2 = rdk(P["ssl"], ca=P["ca"], extra=cert("client2"))
    assert [code_name(c) for c in produce_rdk(client2, "mtls", [b"c2"])] == ["TOPIC_AUTHORIZATION_FAILED"]
    assert topics_seen(client2) == set()
    print("client2: denied", flush=True)

    # Without a certificate, or with one the CA did not sign, nothing gets through.
    for what, extra in [("no certificate", {}), ("a stranger's certificate", cert("stranger"))]:
        errors = []
        conf = rdk(P["ssl"], ca=P["ca"], extra=dict(extra, error_cb=lambda e: errors.append(e)))
        try:
            md = AdminClient(conf).list_topics(timeout=5)
            raise AssertionError(f"{what}: Metadata answered with {sorted(md.topics)}")
        except KafkaException as e:
            assert e.args[0].code() == KafkaError._TRANSPORT, e
        outcome = produce_rdk(conf, "mtls", [b"refused"], timeout=4)
        assert outcome != [None], f"{what}: delivered"
        assert errors, f"{what}: no error reported"
        print(f"{what}: refused ({code_name(outcome[0])}; {errors[0].str()})", flush=True)
    assert consume_rdk(client1, "mtls", 11) == values + [b"kp"]


def anonymous():
    """The PLAINTEXT listener's principal is User:ANONYMOUS: denied until an ACL names it."""
    create_topics(["anon"])
    open_assign_group()
    admin = rdk(P["sasl"], "PLAIN", ADMIN)
    produce_ok_rdk(admin, "anon", [b"a0", b"a1", b"a2"])
    plain = rdk(P["plaintext"])
    assert topics_seen(plain) == set(), topics_seen(plain)
    md = AdminClient(plain).list_topics(topic="anon", timeout=10)
    assert md.topics["anon"].error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, md.topics["anon"].error
    assert [code_name(c) for c in produce_rdk(plain, "anon", [b"no"])] == ["TOPIC_AUTHORIZATION_FAILED"]
    assert code_name(consume_error_rdk(plain, "anon")) == "TOPIC_AUTHORIZATION_FAILED"
    try:
        produce_kpy(kpy(P["plaintext"]), "anon", [b"no"])
        raise AssertionError("kafka-python wrote to anon as User:ANONYMOUS")
    except kerr.TopicAuthorizationFailedError:
        pass
    print("ANONYMOUS: denied", flush=True)
    create_acls_kpy([ACL("User:ANONYMOUS", "*", op, ACLPermissionType.ALLOW,
                         ResourcePattern(KResourceType.TOPIC, "anon", ACLResourcePatternType.LITERAL))
                     for op in (ACLOperation.READ, ACLOperation.WRITE)])
    produce_ok_rdk(plain, "anon", [b"a3", b"a4"])
    assert consume_rdk(plain, "anon", 5) == [b"a0", b"a1", b"a2", b"a3", b"a4"]
    assert consume_kpy(kpy(P["plaintext"]), "anon", 5) == [b"a0", b"a1", b"a2", b"a3", b"a4"]
    assert topics_seen(plain) == {"anon"}, topics_seen(plain)
    print("ANONYMOUS: allowed by its ACLs", flush=True)


SCENARIOS = {f.__name__: f for f in [sasl_roundtrip, sasl_refusals, steady_producer, acls, mtls, anonymous]}

if __name__ == "__main__":
    SCENARIOS[NAME]()
    print(f"OK {NAME}", flush=True)
