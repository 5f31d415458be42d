# SPDX-License-Identifier: ISC
"""
12-expiry: past its expires_at an alert is no longer delivered (an agent
that starts afterwards gets nothing of it), leaves the live set (wuzhad
sweeps every 5 s), refuses acks with unknown-alert (308), and its
counters freeze: STATUS still answers for it with what was counted before.
"""

import json
import re
import time

import pytest

import harness
import wuzha_proto as wp

SWEEP_WAIT = 15.0   # the daemon's 5 s sweep, with room to spare


def _status_nodes(doc):
    """{node: counters} from `wuzhactl status --json`."""
    nodes = doc.get("nodes", doc)
    if isinstance(nodes, dict):
        return nodes
    return {n.get("node") or n.get("id"): n for n in nodes}


def _wait_expired(wz, aid):
    """Sleep until the alert's expires_at has passed (by our clock)."""
    expires = int(wz.stored_alert(aid)["expires"])
    delay = expires / 1000.0 - time.time() + 0.3
    assert delay < 5, "expires_at is %.1f s away" % delay
    if delay > 0:
        time.sleep(delay)


def test_expired_alert_is_not_delivered_acked_or_live_but_has_status(wz):
    early = wz.start_agent("adv-b11")
    aid, _, targeted = wz.publish("officer-li", "school-b-d1",
                                  extra=("--expires", "2s"))
    assert targeted == 3
    early.wait_shown(aid)
    # Delivered, then shown by the hook that worked.
    harness.wait_for(lambda: wz.acks(aid).get("adv-b11", (0,))[0]
                     == wp.ACK_SHOWN, 10, "the shown ack")
    before = wz.rate(aid)
    assert before["school-b-d1"]["delivered"] == 1
    assert before["school-b-d1"]["shown"] == 1

    _wait_expired(wz, aid)
    # An agent of the target that comes after the expiry gets nothing.
    late = wz.start_agent("adv-b12")
    sentinel, _, _ = wz.publish("officer-li", "school-b-d1-c2")
    late.wait_shown(sentinel)
    time.sleep(0.3)
    assert late.shown_ids() == [sentinel]
    assert aid not in late.log(), "the daemon sent an expired alert"
    assert "adv-b12" not in wz.acks(aid)

    # The sweep takes it out of the live set ...
    harness.wait_for(lambda: aid not in wz.redis.zrange("live"),
                     SWEEP_WAIT, "the expired alert to leave the live set")
    wz.daemon.wait_log(r"alert %s: expired" % aid, timeout=5)
    # ... after which an ack is refused and changes nothing.
    r = wz.ctl("adv-b11", "ack", aid, "read")
    assert r.rc == 1, r
    assert r.error() and r.error()[:2] == ("unknown-alert", 308), r
    # ... saying that it expired, and when, not that it is unknown.
    assert re.search(r"alert %s expired at \d{4}-\d\d-\d\d "
                     r"\d\d:\d\d:\d\d UTC: its counters are frozen"
                     % re.escape(aid), r.error()[2]), r
    r = wz.ctl("adv-b12", "ack", aid, "relayed", "--reach", "30")
    assert r.rc == 1 and r.error()[:2] == ("unknown-alert", 308), r
    assert wz.rate(aid) == before
    assert set(wz.acks(aid)) == {"adv-b11"}

    # STATUS still answers, with the counters as they froze.
    r = wz.ctl("officer-li", "status", aid, "--json")
    assert r.rc == 0, r
    doc = json.loads(r.out)
    assert doc["id"] == aid
    nodes = _status_nodes(doc)
    for node, counters in before.items():
        for counter in ("delivered", "read", "relayed"):
            assert nodes[node][counter] == counters.get(counter, 0), \
                (node, counter, nodes[node], counters)
    assert nodes["school-b-d1"]["targeted"] == 3
    assert nodes["school-b-d1"]["delivered"] == 1
    assert nodes["school-b-d1"]["read"] == 0
    r = wz.ctl("officer-li", "status", aid)
    assert r.rc == 0 and aid in r.out, r


def test_ack_of_a_cancelled_or_unknown_alert_says_which(wz):
    aid, _, _ = wz.publish("officer-li", "school-b-d1-c1")
    cancel_id, _, _ = wz.publish("officer-li", "school-b-d1-c1",
                                 headline="cancel of " + aid,
                                 extra=("--type", "cancel", "--references",
                                        aid))
    assert wz.stored_alert(aid).get("cancelled_by") == cancel_id
    harness.wait_for(lambda: aid not in wz.redis.zrange("live"), 10,
                     "the cancelled alert to leave the live set")
    # The cancel retired it from the daemon's cache at once.
    r = wz.ctl("adv-b11", "ack", aid, "read")
    assert r.rc == 1 and r.error()[:2] == ("unknown-alert", 308), r
    assert "alert %s was cancelled (by %s)" % (aid, cancel_id) \
        in r.error()[2], r
    r = wz.ctl("adv-b11", "ack", "no-such-alert-9", "read")
    assert r.rc == 1 and r.error()[:2] == ("unknown-alert", 308), r
    assert "no such live alert no-such-alert-9" in r.error()[2], r


def test_alert_expired_while_agent_offline_is_not_pending(wz):
    aid, _, _ = wz.publish("desk-a", "school-a-d2", extra=("--expires", "2s"))
    _wait_expired(wz, aid)
    # Straight after the expiry, before any sweep, it is not sent either.
    fs, _ = wz.session("adv-a21")
    try:
        with pytest.raises(TimeoutError):
            t, m = fs.recv(1.5)
            raise AssertionError("got %s %r" % (wp.TYPE_NAMES.get(t), m))
    finally:
        fs.close()


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
