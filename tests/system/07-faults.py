# SPDX-License-Identifier: ISC
"""
07-faults: wuzhad stays up through a Redis outage.  While Redis is gone a
PUBLISH is refused with 501 (store unavailable, try again) and agents stay
connected; when Redis comes back the daemon reconnects by itself.  A Redis
that comes back empty (its data lost) does not cut everyone off: the daemon
keeps the tree it has until one is imported again, and refuses PUBLISH
until `wuzhactl redis rearm` (26-redis-health has the details).  Out of file
descriptors, the listener pauses and retries instead of spinning on accept,
says so in its log (once a second at most), /metrics and /healthz, and the
sessions it has keep working.
"""

import http.client
import os
import re
import resource
import socket
import time

import pytest

import harness
import wuzha_proto as wp


@pytest.fixture
def own(tmp_path):
    e = harness.Env(private_redis=True)
    try:
        e.setup()
        yield e
    finally:
        errors = e.teardown()
        assert not errors, "; ".join(errors)


def test_redis_outage_refuses_publish_keeps_agents_and_recovers(own):
    a = own.start_agent("adv-a11")
    a.proc.wait_log("connected to", timeout=15)

    own.redis_proc.stop()
    own.daemon.wait_log("redis: connection lost", timeout=10)
    r = own.publish("officer-li", "school-a", expect_ok=False)
    assert r.rc == 1, r
    assert r.error()[:2] == ("store-unavailable", 501), r

    # Redis comes back without its data (no persistence in this test).
    own.start_redis()
    own.daemon.wait_log(r"wuzhad: redis: up\n", timeout=15,
                        start=own.daemon.log().find("connection lost"))
    own.daemon.wait_log("keeping generation", timeout=10)
    time.sleep(0.5)
    assert a.proc.alive()
    assert "disconnected" not in a.log(), a.log()

    # The agent was never cut off: once the tree is imported again and the
    # operator has rearmed (the data was lost), a publish reaches it.
    own.import_tree()
    own.run([harness.binary("wuzhactl"), "redis", "rearm", "--redis",
             own.redis_sock, "--prefix", own.prefix])
    own.daemon.wait_log("redis: data loss cleared", timeout=5)
    aid, _, targeted = own.publish("officer-li", "school-a")
    assert targeted > 0
    a.wait_shown(aid)


def test_a_silent_peer_is_closed_after_the_idle_time(env):
    env.setup(timeouts={"heartbeat": "1s", "idle": "3s"})
    fs, _ = env.session("adv-a11")
    try:
        # Say nothing, not even PONG: the daemon pings, then gives up.
        t0 = time.monotonic()
        closed, frames = fs.wait_closed(timeout=10)
        waited = time.monotonic() - t0
        assert closed, frames
        assert 2.5 <= waited <= 6.0, waited
        types = [t for t, _ in frames]
        assert wp.PING in types
        errors = [wp.decode(t, p) for t, p in frames if t == wp.ERROR]
        assert errors and errors[-1]["code"] == wp.E["timeout"], errors
    finally:
        fs.close()
    env.daemon.wait_log(r"adv-a11@.*silent for \d+ s", timeout=5)


def _cpu_ticks(pid):
    """utime + stime of pid, in clock ticks (proc(5))."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _http_get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def _sample(body, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), body, re.M)
    assert m, "no %s in /metrics" % name
    return float(m.group(1))


def test_out_of_descriptors_pauses_the_listener_without_spinning(env):
    env.setup()
    mport = int(env.daemon.wait_log(
        r"metrics on http://127\.0\.0\.1:(\d+)/metrics", timeout=10).group(1))
    a = env.start_agent("adv-a11")
    a.proc.wait_log("connected to", timeout=15)
    pub, _ = env.session("officer-li", role=wp.ROLE_CONSOLE)
    waiting = []
    pid = env.daemon.pid
    try:
        # Room for two more descriptors: two of the waiting connections
        # are accepted, then accept fails for the rest.
        held = len(os.listdir("/proc/%d/fd" % pid))
        _, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (held + 2, hard))
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", env.port), timeout=5)
            waiting.append(s)
        env.daemon.wait_log("listener: accept", timeout=10)
        time.sleep(0.5)

        # Three seconds out of descriptors: little CPU, few log lines.
        start = len(env.daemon.log())
        t0, c0 = time.monotonic(), _cpu_ticks(pid)
        time.sleep(3)
        cpu = (_cpu_ticks(pid) - c0) / os.sysconf("SC_CLK_TCK")
        spent = time.monotonic() - t0
        lines = [ln for ln in env.daemon.log()[start:].splitlines()
                 if "listener: accept" in ln]
        assert cpu < 0.6, "%.2f s of CPU in %.2f s, %d log lines" % (
            cpu, spent, len(lines))
        assert 1 <= len(lines) <= 8, lines[:10]
        for ln in lines:
            assert re.search(r"\(\d+ failed accepts? since", ln), ln

        status, body = _http_get(mport, "/healthz")
        assert status == 503, (status, body)
        assert "listener paused: out of file descriptors" in body, body
        status, body = _http_get(mport, "/metrics")
        assert status == 200
        assert _sample(body, "wuzha_listener_paused") == 1
        assert _sample(body, "wuzha_accept_out_of_descriptors_total") >= 1

        # Sessions already open keep working: a publish reaches the agent.
        key = wp.load_key(env.key("officer-li"))
        cert = wp.load_cert(env.crt("officer-li"))
        aid = env.new_id()
        pub.send_raw(wp.publish(wp.signed_envelope(
            wp.alert_body(aid, "officer-li", "school-a"), key, cert)))
        pub.expect(wp.PUBLISHED)
        a.wait_shown(aid)

        # The waiting peers give up: the listener drains them and resumes.
        for s in waiting:
            s.close()
        waiting = []
        env.daemon.wait_log("listener: resumed", timeout=30, start=start)
        fs, welcome = env.session("adv-a12")
        fs.close()
        assert welcome is not None
        harness.wait_for(lambda: _http_get(mport, "/healthz")[0] == 200, 10,
                         "/healthz to recover")
        status, body = _http_get(mport, "/metrics")
        assert _sample(body, "wuzha_listener_paused") == 0
    finally:
        for s in waiting:
            s.close()
        pub.close()


def test_out_of_descriptors_pauses_the_metrics_listener_too(env):
    env.setup()
    mport = int(env.daemon.wait_log(
        r"metrics on http://127\.0\.0\.1:(\d+)/metrics", timeout=10).group(1))
    pid = env.daemon.pid
    waiting = []
    held = len(os.listdir("/proc/%d/fd" % pid))
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    try:
        # No room at all: every accept on the metrics port fails.
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (held, hard))
        for _ in range(8):
            waiting.append(socket.create_connection(("127.0.0.1", mport),
                                                    timeout=5))
        start = env.daemon.log().find("metrics on http")
        env.daemon.wait_log("metrics: accept", timeout=10, start=start)
        time.sleep(0.5)

        # Three seconds of it: little CPU, about one log line a second.
        mark = len(env.daemon.log())
        t0, c0 = time.monotonic(), _cpu_ticks(pid)
        time.sleep(3)
        cpu = (_cpu_ticks(pid) - c0) / os.sysconf("SC_CLK_TCK")
        spent = time.monotonic() - t0
        lines = [ln for ln in env.daemon.log()[mark:].splitlines()
                 if "metrics: accept" in ln]
        assert cpu < 0.6, "%.2f s of CPU in %.2f s, %d log lines" % (
            cpu, spent, len(lines))
        assert 1 <= len(lines) <= 5, lines[:10]
        for ln in lines:
            assert re.search(r"\(\d+ failed accepts? since", ln), ln
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        for s in waiting:
            s.close()
    # Descriptors again: the listener takes new scrapes.
    harness.wait_for(lambda: _http_get(mport, "/healthz")[0] == 200, 10,
                     "/healthz to answer again")
