# SPDX-License-Identifier: ISC
"""
25-drill: an alert marked exercise (a drill, 演练) or test is signed as
such, so every agent shows it as a drill and hands its status to the
hook; its acknowledgements are stored like any, but counted apart: the
real acknowledgement counters of /metrics do not move, the drill ones
do, and `wuzhactl status` says DRILL.  Pending and the per-alert rates
of a drill are its own; nothing of it reaches a real alert's numbers.
"""

import http.client
import json
import re

import pytest

import harness


def _metrics(wz):
    m = wz.daemon.wait_log(r"metrics on http://127\.0\.0\.1:(\d+)/metrics",
                           timeout=10)
    c = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=10)
    try:
        c.request("GET", "/metrics")
        body = c.getresponse().read().decode()
    finally:
        c.close()
    out = {}
    for line in body.splitlines():
        mm = re.match(r"^(\w+)(\{[^}]*\})? (\S+)$", line)
        if mm:
            out[mm.group(1) + (mm.group(2) or "")] = float(mm.group(3))
    return out


REAL_READ = 'wuzha_acks_stored_total{state="read"}'
REAL_DELIVERED = 'wuzha_acks_stored_total{state="delivered"}'
DRILL_READ = 'wuzha_drill_acks_stored_total{state="read"}'
DRILL_DELIVERED = 'wuzha_drill_acks_stored_total{state="delivered"}'


@pytest.mark.parametrize("how", [("--drill",), ("--status", "test")])
def test_drill_is_shown_as_one_and_counted_apart(wz, how):
    agents = [wz.start_agent(cn) for cn in ("adv-a11", "adv-a12")]
    for a in agents:
        a.proc.wait_log(r"welcome principal", timeout=15)
    before = _metrics(wz)
    aid, _, targeted = wz.publish("desk-a", "school-a-d1",
                                  headline="防诈骗应急演练", extra=how)
    status = "exercise" if how == ("--drill",) else "test"
    for a in agents:
        a.wait_shown(aid)
        rec = [r for r in a.shown() if r.get("WUZHA_ID") == aid][0]
        assert rec["WUZHA_STATUS"] == status, rec
        assert rec["WUZHA_DRILL"] == "1", rec
    harness.wait_for(lambda: len(wz.acks(aid)) == 2, 15, "2 delivered")
    assert wz.ctl("adv-a11", "ack", aid, "read").rc == 0
    after = harness.wait_for(
        lambda: (lambda m: m if m.get(DRILL_READ, 0) >= before.get(
            DRILL_READ, 0) + 1 else None)(_metrics(wz)), 10,
        "the drill's read ack in /metrics")
    assert after[DRILL_DELIVERED] - before.get(DRILL_DELIVERED, 0) == 2
    assert after[REAL_DELIVERED] == before[REAL_DELIVERED]
    assert after[REAL_READ] == before[REAL_READ]
    assert wz.redis.hget_raw("alert:" + aid, "status") == (
        b"1" if status == "exercise" else b"2")

    r = wz.ctl("desk-a", "status", aid, "--json")
    assert r.rc == 0, r
    st = json.loads(r.out)
    assert st["status"] == status and st["nodes"][0]["read"] == 1
    r = wz.ctl("desk-a", "status", aid)
    assert r.rc == 0 and "DRILL: " + status in r.out, r

    # A real alert next to it: its numbers hold its own acks only.
    real, _, _ = wz.publish("desk-a", "school-a-d1", headline="真实预警")
    for a in agents:
        a.wait_shown(real)
    harness.wait_for(lambda: len(wz.acks(real)) == 2, 15, "2 delivered")
    m = harness.wait_for(
        lambda: (lambda m: m if m[REAL_DELIVERED] >= before[REAL_DELIVERED]
                 + 2 else None)(_metrics(wz)), 10, "real delivered acks")
    assert m[REAL_READ] == before[REAL_READ]
    assert m[DRILL_DELIVERED] == after[DRILL_DELIVERED]
    r = wz.ctl("desk-a", "status", real, "--json")
    st = json.loads(r.out)
    assert st["status"] == "actual" and st["nodes"][0]["read"] == 0


def test_agent_prints_a_drill_as_a_drill(wz):
    conf = wz.client_conf("adv-b11", name="plain-b11")
    a = wz.start_agent("adv-b11", conf=conf)
    a.proc.wait_log(r"welcome principal", timeout=15)
    aid, _, _ = wz.publish("desk-b", "school-b", headline="演练：冒充客服",
                           extra=("--drill",))
    m = a.proc.wait_out(r"==== wuzha alert %s \(seq \d+\) DRILL" % aid, 15)
    assert m


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
