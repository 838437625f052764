#!/usr/bin/env python3
"""Drive kcat, confluent-kafka and kafka-python against fake_broker.py and
turn the recorded request frames into protocol/test_data/valid/*.bin.

Run through capture.sh (which installs the clients first), or directly with
the venv's python:  /tmp/capture-venv/bin/python run_capture.py

Steps:
  1. start fake_broker.py on 127.0.0.1 (raw frames go to $WORK/raw/<label>/);
  2. for each scenario: label the broker, run the client with a bounded
     timeout (SIGINT first, SIGKILL 5 s later), keep its output in $WORK/logs;
  3. stop the broker;
  4. write valid/<api>_v<N>_<client>_<case>.bin (first 3 distinct frames per
     api/version/client/case; frames that differ only in the correlation id
     count as the same; a frame already written for an earlier case is not
     written again) and regenerate the generated parts of ../README.md.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TEST_DATA = os.path.dirname(HERE)
VALID = os.path.join(TEST_DATA, "valid")
UNSUPPORTED = os.path.join(TEST_DATA, "unsupported")
README = os.path.join(TEST_DATA, "README.md")
WORK = os.environ.get("KZ_CAPTURE_WORK", "/tmp/kzero-capture")
PY = os.environ.get("KZ_CAPTURE_PYTHON", sys.executable)
PORT = int(os.environ.get("KZ_CAPTURE_PORT", "19092"))
CPORT = PORT + 1
BOOT = "127.0.0.1:%d" % PORT
MAX_PER_KEY = 3

CLIENT_ORDER = ["kcat", "confluent", "kafkapython"]

# key:value lines; a line without ':' has a null key, "key-3:" (empty value
# with -Z) is a tombstone.  Values repeat so that compression pays off.
KCAT_LINES = (b"key-1:" + b"value one " * 10 + b"\n" + b"value with null key " * 5 + b"\n"
              + b"key-3:\n" + b"key-4:" + b"value four " * 10 + b"\n")


def kcat(*args):
    return ["kcat", "-b", BOOT, "-X", "client.id=kzero-kcat"] + list(args)


def scenarios():
    ts = str(int(time.time() * 1000) - 3600 * 1000)
    sc = []  # (client, case, [ (argv, stdin_bytes, timeout_s) ... ])
    # kcat (system librdkafka)
    sc.append(("kcat", "metadata", [(kcat("-L"), None, 20),
                                    (kcat("-L", "-t", "kz-kcat-meta"), None, 20)]))
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        sc.append(("kcat", codec, [(kcat("-P", "-t", "kz-kcat-" + codec, "-K", ":", "-Z",
                                         "-H", "h1=v1", "-H", "trace=abc123",
                                         "-z", codec, "-X", "linger.ms=50"), KCAT_LINES, 25)]))
    sc.append(("kcat", "idempotent", [(kcat("-P", "-t", "kz-kcat-idem", "-K", ":", "-Z",
                                            "-H", "h1=v1", "-X", "enable.idempotence=true",
                                            "-X", "linger.ms=50"), KCAT_LINES, 25)]))
    sc.append(("kcat", "acks0", [(kcat("-P", "-t", "kz-kcat-acks0", "-K", ":", "-Z",
                                       "-X", "acks=0", "-X", "linger.ms=50"), KCAT_LINES, 25)]))
    sc.append(("kcat", "group", [(kcat("-G", "kz-kcat-group", "-X", "auto.offset.reset=earliest",
                                       "-X", "heartbeat.interval.ms=1000",
                                       "-X", "auto.commit.interval.ms=1000",
                                       "-X", "session.timeout.ms=10000",
                                       "kz-kcat-none"), None, 9)]))
    sc.append(("kcat", "earliest", [(kcat("-C", "-t", "kz-kcat-none", "-o", "beginning", "-e"), None, 20)]))
    sc.append(("kcat", "latest", [(kcat("-C", "-t", "kz-kcat-none", "-p", "0", "-o", "end", "-e"), None, 20)]))
    sc.append(("kcat", "timestamp", [(kcat("-C", "-t", "kz-kcat-none", "-o", "s@" + ts, "-e"), None, 20)]))
    sc.append(("kcat", "query", [(kcat("-Q", "-t", "kz-kcat-none:0:" + ts, "-t", "kz-kcat-none:1:-1"), None, 20)]))

    # confluent-kafka and kafka-python
    for client, script in (("confluent", "scenarios_confluent.py"),
                           ("kafkapython", "scenarios_kafkapython.py")):
        cases = []
        if client == "confluent":
            cases.append("metadata")
        cases += ["none", "gzip", "snappy", "lz4", "zstd", "idempotent", "acks0",
                  "group", "earliest", "latest"]
        if client == "confluent":
            cases += ["watermarks"]
        cases += ["timestamp"]
        if client == "confluent":
            cases += ["leader-epoch"]
        cases += ["create-topics", "delete-topics", "describe-configs", "list-groups",
                  "describe-groups"]
        for case in cases:
            sc.append((client, case, [([PY, os.path.join(HERE, script), BOOT, case], None, 40)]))
    return sc


def control(cmd, timeout=30):
    with socket.create_connection(("127.0.0.1", CPORT), timeout=timeout) as s:
        s.sendall((cmd + "\n").encode())
        return s.makefile().readline().strip()


def run_cmd(argv, stdin, timeout, logf):
    logf.write("$ %s\n" % " ".join(argv))
    logf.flush()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                         stdout=logf, stderr=subprocess.STDOUT)
    try:
        if stdin is not None:
            p.stdin.write(stdin)
            p.stdin.close()
        rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGINT)  # graceful: kcat/clients close, commit, leave
        try:
            rc = p.wait(timeout=8)
            rc = "timeout(%ds)+SIGINT rc=%s" % (timeout, rc)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            rc = "timeout(%ds)+SIGKILL" % timeout
    logf.write("# exit: %s\n" % rc)
    logf.flush()
    return rc


def wait_port(port, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def capture():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(os.path.join(WORK, "logs"))
    broker_log = open(os.path.join(WORK, "logs", "fake_broker.log"), "w")
    broker = subprocess.Popen([PY, os.path.join(HERE, "fake_broker.py"), "--port", str(PORT),
                               "--control-port", str(CPORT), "--raw-dir", os.path.join(WORK, "raw"),
                               "--max-seconds", "1500", "--label", "startup"],
                              stdout=broker_log, stderr=subprocess.STDOUT)
    results = []
    try:
        if not (wait_port(PORT) and wait_port(CPORT)):
            raise SystemExit("fake broker did not start; see %s/logs/fake_broker.log" % WORK)
        for client, case, cmds in scenarios():
            label = "%s__%s" % (client, case)
            print("== %s" % label, flush=True)
            print("   label:", control("LABEL " + label), flush=True)
            with open(os.path.join(WORK, "logs", label + ".log"), "w") as logf:
                for argv, stdin, timeout in cmds:
                    rc = run_cmd(argv, stdin, timeout, logf)
                    print("   exit:", rc, flush=True)
                    results.append((label, rc))
        print("   label:", control("LABEL shutdown"), flush=True)
    finally:
        try:
            control("STOP", timeout=5)
        except OSError:
            pass
        try:
            broker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait()
        broker_log.close()
    with open(os.path.join(WORK, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


# ---------------------------------------------------------------------------

API_ORDER = ["api_versions", "metadata", "produce", "fetch", "list_offsets", "offset_commit",
             "offset_fetch", "find_coordinator", "join_group", "heartbeat", "leave_group",
             "sync_group", "describe_groups", "list_groups", "create_topics", "delete_topics",
             "init_producer_id", "offset_for_leader_epoch", "describe_configs"]


def organize():
    """Turn $WORK/raw into valid/*.bin; return the table rows and notes."""
    raw = os.path.join(WORK, "raw")
    for d in (VALID, UNSUPPORTED):
        if os.path.isdir(d):
            for fn in os.listdir(d):
                if fn.endswith(".bin"):
                    os.remove(os.path.join(d, fn))
    os.makedirs(VALID, exist_ok=True)
    labels = [l for (c, case, _) in scenarios() for l in ["%s__%s" % (c, case)]]
    seen = set()           # digests (frame with correlation id zeroed)
    rows = []
    counts = {}            # (label) -> {(api, ver): n_frames}
    for label in labels:
        d = os.path.join(raw, label)
        if not os.path.isdir(d):
            continue
        client, case = label.split("__", 1)
        per_key = {}
        with open(os.path.join(d, "index.jsonl")) as f:
            entries = [json.loads(l) for l in f]
        for e in entries:
            counts.setdefault(label, {}).setdefault((e["api"], e["version"]), 0)
            counts[label][(e["api"], e["version"])] += 1
            with open(os.path.join(d, e["file"]), "rb") as fh:
                frame = fh.read()
            norm = frame[:4] + b"\0\0\0\0" + frame[8:]
            dig = hashlib.sha256(norm).hexdigest()
            if dig in seen:
                continue
            key = (e["api"], e["version"])
            n = per_key.get(key, 0)
            if n >= MAX_PER_KEY:
                continue
            seen.add(dig)
            per_key[key] = n + 1
            name = "%s_v%d_%s_%s%s.bin" % (e["api"], e["version"], client, case,
                                           "" if n == 0 else "-%d" % (n + 1))
            outdir = VALID if not e["note"].startswith("unsupported") else UNSUPPORTED
            os.makedirs(outdir, exist_ok=True)
            with open(os.path.join(outdir, name), "wb") as fh:
                fh.write(frame)
            rows.append((e["api"], e["version"], client, case, os.path.relpath(os.path.join(outdir, name), TEST_DATA),
                         len(frame), e["note"]))
    rows.sort(key=lambda r: (API_ORDER.index(r[0]) if r[0] in API_ORDER else 99, r[1],
                             CLIENT_ORDER.index(r[2]), r[4]))
    return rows, counts


def client_versions():
    out = {}
    try:
        v = subprocess.run(["kcat", "-V"], capture_output=True, text=True, timeout=10)
        line = [l for l in (v.stdout + v.stderr).splitlines() if l.startswith("Version")]
        out["kcat"] = line[0].strip() if line else "?"
    except Exception as e:  # noqa: BLE001
        out["kcat"] = "unavailable: %s" % e
    code = ("import confluent_kafka, kafka\n"
            "v = confluent_kafka.version()\n"
            "print(v if isinstance(v, str) else v[0]); print(confluent_kafka.libversion()[0]); print(kafka.__version__)")
    v = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=30)
    parts = v.stdout.split()
    if len(parts) == 3:
        out["confluent"] = "confluent-kafka %s (librdkafka %s)" % (parts[0], parts[1])
        out["kafkapython"] = "kafka-python %s" % parts[2]
    return out


def replace_block(text, name, body):
    begin = "<!-- BEGIN GENERATED %s -->" % name
    end = "<!-- END GENERATED %s -->" % name
    pat = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    new = begin + "\n" + body.rstrip("\n") + "\n" + end
    if pat.search(text):
        return pat.sub(lambda m: new, text)
    return text.rstrip("\n") + "\n\n" + new + "\n"


def write_readme(rows, counts):
    vers = client_versions()
    vtext = "\n".join("- `%s`: %s" % (k, vers.get(k, "?")) for k in CLIENT_ORDER)
    vtext += "\n- Captured on %s." % time.strftime("%Y-%m-%d")
    table = ["| api | version | client | case | file | bytes |", "|---|---|---|---|---|---|"]
    for api, ver, client, case, path, size, note in rows:
        table.append("| %s | %d | %s | %s | `%s` | %d |" % (api, ver, client, case, path, size))
    # Which (api, version) each scenario sent at all, before de-duplication.
    seen = ["| client | case | requests sent (api vN x count) |", "|---|---|---|"]
    for label, c in counts.items():
        client, case = label.split("__", 1)
        items = sorted(c.items(), key=lambda kv: (API_ORDER.index(kv[0][0]) if kv[0][0] in API_ORDER else 99, kv[0][1]))
        seen.append("| %s | %s | %s |" % (client, case, ", ".join("%s v%d x%d" % (a, v, n) for (a, v), n in items)))
    text = open(README).read() if os.path.exists(README) else "# Kafka request fixtures\n"
    text = replace_block(text, "VERSIONS", vtext)
    text = replace_block(text, "FILES", "\n".join(table))
    text = replace_block(text, "SCENARIOS", "\n".join(seen))
    with open(README, "w") as f:
        f.write(text)


def main():
    if "--organize-only" not in sys.argv:
        capture()
    rows, counts = organize()
    write_readme(rows, counts)
    total = sum(r[5] for r in rows)
    print("wrote %d files, %d bytes" % (len(rows), total))


if __name__ == "__main__":
    main()
