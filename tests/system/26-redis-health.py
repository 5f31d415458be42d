# SPDX-License-Identifier: ISC
"""
26-redis-health: a Redis that is reachable but not well is not called
healthy.  Refusing writes (OOM at maxmemory with noeviction), hung
(SIGSTOP) or back without its data, it turns /healthz to 503 with the
reason, says it in the systemd STATUS= line and logs one error line per
change; with its data lost, PUBLISH is refused until an operator runs
`wuzhactl redis rearm`, after which sequence numbers go on from where
they were.
"""

import http.client
import os
import re
import signal
import time

import pytest

import harness

# A redis-server of its own (see the env fixture in conftest.py).
PRIVATE_REDIS = True


def _healthz(env):
    port = int(env.daemon.wait_log(
        r"metrics on http://127\.0\.0\.1:(\d+)/metrics", timeout=10).group(1))
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", "/healthz")
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def _wait_healthz(env, status, text, timeout):
    got = []

    def probe():
        got[:] = _healthz(env)
        return got[0] == status and text in got[1]
    try:
        harness.wait_for(probe, timeout, "/healthz %d %s" % (status, text),
                         interval=0.1)
    except AssertionError:
        raise AssertionError("/healthz is %r, not %d %r" % (got, status, text))
    return got[1]


def _status_says(notify, text, timeout):
    harness.wait_for(lambda: any(text in s for s in notify.lines("STATUS=")),
                     timeout, "STATUS= with %r" % text, interval=0.1)


def _start(env, notify, **opts):
    env.setup(daemon=False)
    env.start_daemon(environ={"NOTIFY_SOCKET": notify.path}, **opts)


def test_redis_refusing_writes_is_unhealthy_until_it_accepts_them(
        env, notify):
    _start(env, notify)
    env.publish("officer-li", "school-a")
    start = len(env.daemon.log())
    env.redis.cmd("CONFIG", "SET", "maxmemory-policy", "noeviction")
    env.redis.cmd("CONFIG", "SET", "maxmemory", "1")
    try:
        body = _wait_healthz(env, 503, "redis refuses writes: OOM", 5)
        r = env.publish("officer-li", "school-a", expect_ok=False)
        assert r.rc == 1, r
        assert r.error()[1] == 501, r
        _status_says(notify, "redis refuses writes: OOM", 5)
        time.sleep(1.5)
        lines = [ln for ln in env.daemon.log()[start:].splitlines()
                 if "redis: unhealthy" in ln]
        assert len(lines) == 1, lines
        assert lines[0].startswith("<3>"), lines
        assert "OOM" in lines[0], lines
    finally:
        env.redis.cmd("CONFIG", "SET", "maxmemory", "0")
    _wait_healthz(env, 200, "ok", 5)
    env.daemon.wait_log("redis: healthy again", timeout=5, start=start)
    _status_says(notify, "redis up", 5)
    env.publish("officer-li", "school-a")
    assert body.startswith("redis refuses writes: OOM"), body


def test_hung_redis_is_unhealthy_before_the_command_timeout(env, notify):
    _start(env, notify, redis={"command_timeout": "20s"})
    _wait_healthz(env, 200, "ok", 5)
    pid = env.redis_proc.pid
    start = len(env.daemon.log())
    t0 = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        _wait_healthz(env, 503, "redis not answering", 3)
        took = time.monotonic() - t0
        _status_says(notify, "redis not answering", 3)
        env.daemon.wait_log(r"<3>wuzhad: redis: unhealthy: redis not "
                            r"answering", timeout=3, start=start)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert took < 3, took
    _wait_healthz(env, 200, "ok", 5)
    _status_says(notify, "redis up", 5)
    assert "dropping the connection" not in env.daemon.log()[start:]


def test_redis_back_empty_stops_publishing_until_rearmed(env, notify):
    _start(env, notify)
    env.publish("officer-li", "school-a")
    _, seq, _ = env.publish("officer-li", "school-a")
    assert int(seq) == 2
    # Held, due while Redis has lost its data: not released with a seq
    # that restarted, and dropped with the true reason after the rearm.
    held = env.new_id("held")
    r = env.ctl("officer-li", "publish", "--target", "school-a",
                "--headline", "held", "--id", held, "--at", "+3s")
    assert r.rc == 0, r

    env.redis_proc.stop()
    env.daemon.wait_log("redis: connection lost", timeout=10)
    start = len(env.daemon.log())
    env.start_redis()                      # no persistence: empty
    env.daemon.wait_log(r"<3>wuzhad: redis: unhealthy: redis lost its "
                        r"data: its epoch key is gone", timeout=15,
                        start=start)
    body = _wait_healthz(env, 503, "redis lost its data", 5)
    _status_says(notify, "redis lost its data", 5)

    # Importing the tree again is not enough: numbers would restart.
    env.import_tree()
    time.sleep(1)
    r = env.publish("officer-li", "school-a", expect_ok=False)
    assert r.rc == 1, r
    assert r.error()[:2] == ("store-unavailable", 501), r
    assert "redis lost its data" in r.err, r
    assert _healthz(env)[0] == 503
    env.daemon.wait_log(r"alert %s: due, but redis lost its data: its epoch "
                        r"key is gone.*: held until an operator runs "
                        r"wuzhactl redis rearm" % held, timeout=10,
                        start=start)
    assert env.redis.get("seq") is None
    assert re.fullmatch(r"[0-9a-f]{32} 2", env.redis.get("lost")), \
        env.redis.get("lost")

    rearm = [harness.binary("wuzhactl"), "redis", "rearm", "--redis",
             env.redis_sock, "--prefix", env.prefix]
    r = env.run(rearm, check=False)
    assert r.rc == 0, r
    assert re.match(r"rearmed: epoch [0-9a-f]{32}, seq 2;", r.out), r
    _wait_healthz(env, 200, "ok", 5)
    env.daemon.wait_log("redis: data loss cleared", timeout=5, start=start)
    _status_says(notify, "redis up", 5)
    env.daemon.wait_log(r"alert %s: due, but its record is gone from Redis "
                        r"\(its data was lost\): not sent" % held,
                        timeout=10, start=start)
    _, seq, _ = env.publish("officer-li", "school-a")
    assert int(seq) == 3

    # Nothing recorded: rearm says so and fails.
    r = env.run(rearm, check=False)
    assert r.rc == 1, r
    assert "no data loss recorded" in r.err, r
    assert body.startswith("redis lost its data: its epoch key is gone"), body


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
