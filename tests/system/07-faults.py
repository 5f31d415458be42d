# SPDX-License-Identifier: ISC
"""
07-faults: wuzhad stays up through a Redis outage.  While Redis is gone a
PUBLISH is refused with 501 (store unavailable, try again) and agents stay
connected; when Redis comes back the daemon reconnects by itself.  A Redis
that comes back empty (its data lost) does not cut everyone off: the daemon
keeps the tree it has until one is imported again.
"""

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

    # The agent was never cut off: a publish after re-import reaches it.
    own.import_tree()
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
