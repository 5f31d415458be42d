# SPDX-License-Identifier: ISC
"""
16-bench-short: the benchmark (tests/bench/wuzha-bench) in its short
form, 200 agents and 3 alerts against the real wuzhad and Redis, so that
it does not rot.  Only correctness is checked, never time: it exits 0,
its one JSON line parses, every alert reached every agent, every ack is
in Redis, and the second round of connections resumed TLS sessions.
scripts/bench runs the same program for the figures.
"""

import json
import os
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


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
