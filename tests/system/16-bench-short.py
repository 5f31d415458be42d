# SPDX-License-Identifier: ISC
"""
16-bench-short: the benchmark (tests/bench/wuzha-bench) in its short
form, 200 agents and 3 alerts against the real wuzhad and Redis, so that
it does not rot.  Only correctness is checked, never time: it exits 0,
its one JSON line parses, every alert reached every agent, every ack is
in Redis, and the second round of connections resumed TLS sessions.
And its --daemons mode in short: two wuzhad on one Redis, the agents round
robin over their two ports or all on one port they share
(listen_reuse_port), the issuer on the first; every alert reaches every
agent of both (the second daemon by its feed) and every ack is stored.
scripts/bench runs the same program for the figures, and
tests/bench/tls-floor, whose short run is here too.
"""

import http.client
import json
import os
import re
import subprocess

import pytest

import harness

AGENTS = 200
ALERTS = 3
ISSUER = "bench-officer"
ROOT = "bn-police"


def bench_tree(n):
    """One police unit over two schools, two departments each, five
    classes each; the n agents spread over the classes."""
    t = harness.Tree()
    t.node(ROOT, "police")
    t.principal(ISSUER, ROOT, "issue", "observe")
    classes = []
    for s in range(2):
        school = t.node("bn-s%d" % s, "school", ROOT)
        for d in range(2):
            dept = t.node("%s-d%d" % (school, d), "department", school)
            for c in range(5):
                classes.append(t.node("%s-c%d" % (dept, c), "class", dept))
    for i in range(n):
        t.principal("bn-%05d" % i, classes[i % len(classes)], "receive")
    return t


def bench_binary():
    p = os.path.join(harness.BUILD, "tests", "bench", "wuzha-bench")
    if not os.access(p, os.X_OK):
        pytest.fail("wuzha-bench not built (%s)" % p)
    return p


def test_bench_short_run_is_correct(env):
    env.setup(tree=bench_tree(AGENTS), certs=[ISSUER],
              timeouts={"heartbeat": "60s", "idle": "180s"},
              log_level="info")
    bench = env.spawn("bench", [
        bench_binary(), "--server", "127.0.0.1:%d" % env.port,
        "--server-name", "wuzhad", "--ca-cert", env.ca,
        "--ca-key", env.ca_key, "--cn-format", "bn-%05d",
        "--principals", env.principals_file(),
        "--count", str(AGENTS), "--inflight", "32",
        "--issuer-cert", env.crt(ISSUER), "--issuer-key", env.key(ISSUER),
        "--target", ROOT, "--alerts", str(ALERTS), "--gap", "100",
        "--redis", env.redis_sock, "--prefix", env.prefix,
        "--daemon-pid", str(env.daemon.pid), "--timeout", "200"])
    try:
        rc = bench.proc.wait(240)
    except subprocess.TimeoutExpired:
        rc = bench.stop()
    print("wuzha-bench stderr:\n" + bench.tail(20))
    lines = [ln for ln in bench.out().splitlines() if ln.strip()]
    assert len(lines) == 1, bench.out()
    r = json.loads(lines[0])
    print("wuzha-bench:", json.dumps(r))
    assert rc == 0 and r["ok"], r["error"]

    assert r["n"] == AGENTS and r["alerts_done"] == ALERTS
    assert r["sessions"] == AGENTS
    assert r["resumed"] > 0
    assert r["delivered_min"] == AGENTS
    assert r["acks_stored_min"] == AGENTS
    assert len(r["per_alert"]) == ALERTS
    for a in r["per_alert"]:
        assert a["targeted"] == AGENTS, a
        assert a["delivered"] == AGENTS, a
        assert a["acks_stored"] == AGENTS, a
        # Read back here too, not only by the program under test.
        assert env.redis.hlen("ack:" + a["id"]) == AGENTS
        for k in ("first_ms", "p50_ms", "p99_ms", "max_ms",
                  "acks_stored_ms"):
            assert a[k] is not None, (k, a)
    assert r["stray"] == 0 and r["dups"] == 0
    assert r["recv_ts_kernel"] + r["recv_ts_fallback"] == AGENTS * ALERTS


@pytest.mark.parametrize("shared", [False, True],
                         ids=["two-ports", "one-shared-port"])
def test_bench_short_two_daemons_is_correct(env, shared):
    top = {"listen_reuse_port": "true"} if shared else {}
    env.setup(tree=bench_tree(AGENTS), certs=[ISSUER],
              timeouts={"heartbeat": "60s", "idle": "180s"},
              log_level="info", top=top, conf="wuzhad-1.yaml",
              args=["--name", "d1"])
    first, port1 = env.daemon, env.port
    second = env.start_daemon(port=port1 if shared else 0,
                              timeouts={"heartbeat": "60s", "idle": "180s"},
                              log_level="info", top=top,
                              conf="wuzhad-2.yaml", args=["--name", "d2"])
    servers = "127.0.0.1:%d" % port1 if shared else \
        "127.0.0.1:%d,127.0.0.1:%d" % (port1, env.port)
    bench = env.spawn("bench", [
        bench_binary(), "--server", servers,
        "--server-name", "wuzhad", "--ca-cert", env.ca,
        "--ca-key", env.ca_key, "--cn-format", "bn-%05d",
        "--principals", env.principals_file(),
        "--count", str(AGENTS), "--inflight", "32",
        "--issuer-cert", env.crt(ISSUER), "--issuer-key", env.key(ISSUER),
        "--target", ROOT, "--alerts", str(ALERTS), "--gap", "100",
        "--redis", env.redis_sock, "--prefix", env.prefix,
        "--daemon-pid", str(first.pid), "--daemon-pid", str(second.pid),
        "--timeout", "200"])
    try:
        rc = bench.proc.wait(240)
    except subprocess.TimeoutExpired:
        rc = bench.stop()
    print("wuzha-bench stderr:\n" + bench.tail(20))
    lines = [ln for ln in bench.out().splitlines() if ln.strip()]
    assert len(lines) == 1, bench.out()
    r = json.loads(lines[0])
    print("wuzha-bench:", json.dumps(r))
    assert rc == 0 and r["ok"], r["error"]
    assert r["servers"] == (1 if shared else 2) and r["daemons"] == 2
    assert r["alerts_done"] == ALERTS
    assert r["delivered_min"] == AGENTS
    assert r["acks_stored_min"] == AGENTS
    assert r["stray"] == 0 and r["dups"] == 0
    for a in r["per_alert"]:
        assert env.redis.hlen("ack:" + a["id"]) == AGENTS
    if not shared:
        assert len(r["delivery_by_server_ms"]) == 2
        for s in r["delivery_by_server_ms"]:
            assert s["max"] is not None and s["p50"] <= s["max"], s
    # Each alert went live on the issuer's daemon and reached the other
    # daemon's agents through its feed (with one shared port, the issuer
    # may have landed on either); both daemons had agents.
    fed = sent = 0
    for d in (first, second):
        text = metrics(d)
        n = counter(text, "wuzha_alerts_from_other_servers_total")
        fed += n
        sent += counter(text, "wuzha_alert_frames_sent_total") > 0
    assert fed == ALERTS and sent == 2


def metrics(daemon):
    """The /metrics text of a daemon the harness started."""
    m = daemon.wait_log(r"metrics on http://127\.0\.0\.1:(\d+)/metrics",
                        timeout=5)
    c = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=10)
    try:
        c.request("GET", "/metrics")
        return c.getresponse().read().decode()
    finally:
        c.close()


def counter(text, name):
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    assert m, (name, text[-2000:])
    return int(m.group(1))


def sanitized():
    """Was the build under test made with -Db_sanitize=...?"""
    with open(os.path.join(harness.BUILD, "meson-info",
                           "intro-buildoptions.json")) as f:
        opts = {o["name"]: o["value"] for o in json.load(f)}
    return opts.get("b_sanitize", "none") != "none"


def test_tls_floor_short_run_is_sane(env):
    # tests/bench/tls-floor, which scripts/bench runs for the floor the
    # figures are read against: it builds wuzhad's TLS context, makes full
    # and resumed handshakes (it fails if a session does not resume), and
    # reports plausible figures.  Not a timing test.
    env.make_pki(cns=[])
    p = os.path.join(harness.BUILD, "tests", "bench", "tls-floor")
    if not os.access(p, os.X_OK):
        pytest.fail("tls-floor not built (%s)" % p)
    r = subprocess.run(
        [p, "--ca-cert", env.ca, "--ca-key", env.ca_key,
         "--cert", os.path.join(env.pki, "wuzhad.crt"),
         "--key", os.path.join(env.pki, "wuzhad.key"), "--count", "50"],
        capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    f = json.loads(r.stdout)
    print("tls-floor:", json.dumps(f))
    assert f["count"] == 50
    assert f["openssl"].startswith("OpenSSL 3")
    # An SSL object, and an established connection that holds more;
    # unless malloc is a sanitizer's, which mallinfo2 does not see.
    if f["ssl_new_bytes"] is None:
        assert sanitized(), f
        assert f["conn_heap_bytes"] is None, f
    else:
        assert 1000 < f["ssl_new_bytes"] < f["conn_heap_bytes"] < 1_000_000
    assert 0 < f["resumed_server_ms"] and 0 < f["full_server_ms"]
    assert f["full_per_s"] > 0 and f["resumed_per_s"] > 0


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
