# SPDX-License-Identifier: ISC
"""
43-wait-no-replica: with redis.wait_replicas 1 and a Redis that has no
replica, a PUBLISH is stored but never confirmed: wuzhactl gets
store-unavailable (501) within about wait_timeout, not a hang; wuzhad
stays up and healthy; /metrics counts the WAIT and its shortfall; and a
retry of the very envelope gets the same answer (the alert is not pushed
to an agent, whose ack would not be confirmed either).
"""

import re
import time
import urllib.request

import pytest

import harness
import wuzha_proto as wp


def publish_raw(env, envelope):
    """PUBLISH envelope over a fresh console session: (type, msg)."""
    fs, _ = env.session("officer-li", role=wp.ROLE_CONSOLE)
    try:
        fs.send_raw(wp.publish(envelope))
        return fs.recv(10)
    finally:
        fs.close()


def test_publish_with_wait_and_no_replica_gets_501_promptly(env):
    env.setup(redis={"wait_replicas": 1, "wait_timeout": "300ms"})
    m = env.daemon.wait_log(r"metrics on http://(127\.0\.0\.1:\d+)/metrics",
                            10)
    metrics = "http://%s/metrics" % m.group(1)
    key = wp.load_key(env.key("officer-li"))
    cert = wp.load_cert(env.crt("officer-li"))
    aid = env.new_id("wait")
    envelope = wp.signed_envelope(
        wp.alert_body(aid, "officer-li", "school-a"), key, cert)
    for attempt in range(2):
        # The second time the very same bytes: a retry, answered alike.
        t0 = time.monotonic()
        t, msg = publish_raw(env, envelope)
        took = time.monotonic() - t0
        print("publish %d: %s %s in %.2f s" % (attempt, wp.TYPE_NAMES.get(t),
                                              msg, took))
        assert t == wp.ERROR, (wp.TYPE_NAMES.get(t), msg)
        assert msg["code"] == 501, msg
        assert msg["ref"] == aid, msg
        assert "not confirmed by 1 replica" in msg["text"], msg
        assert took < 5, "publish took %.1f s" % took
        # Written on the primary, only not confirmed.
        assert env.stored_alert(aid), "the script did not run"
    assert env.daemon.alive()
    with urllib.request.urlopen(metrics, timeout=10) as f:
        text = f.read().decode()
    waits = int(re.search(r"^wuzha_redis_waits_total (\d+)$", text,
                          re.M).group(1))
    short = int(re.search(r"^wuzha_redis_wait_short_total (\d+)$", text,
                          re.M).group(1))
    assert waits >= 2 and short == waits, text
    # No Sentinel: the primary followed is the configured socket.
    assert 'wuzha_redis_primary{addr="%s"} 1' % env.redis_sock in text, text


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
