# SPDX-License-Identifier: ISC
"""
22-schedule: an alert signed now with a publication time is held by
wuzhad, durably, and goes out within a second of that time: with the
daemon running throughout, after a restart in between, and at start when
the time passed while the daemon was down.  Nobody sees a held alert
early.  `wuzhactl schedule list` shows what is held below a node;
`schedule cancel` withdraws one, and a cancelled alert never goes out,
restart or not.  Only a cancel may refer to a held alert.
"""

import json
import re
import time

import pytest

import harness

SCHED_RX = re.compile(r"scheduled (\S+) for (.+) targeted (\d+)")
FIRE_BOUND_MS = 1000        # the Done-when: within one second


@pytest.fixture
def sched(env):
    """A daemon on a fixed port (agents find it again after a restart)."""
    opts = dict(port=harness.fixed_port(), log_level="debug")
    env.setup(**opts)
    env.daemon_opts = opts
    return env


def _hold(wz, cn, target, at, headline="节前防诈提醒", extra=()):
    """publish --at; returns (id, publish_at ms)."""
    aid = wz.new_id("held")
    r = wz.ctl(cn, "publish", "--target", target, "--headline", headline,
               "--id", aid, "--at", at, "--json", *extra)
    assert r.rc == 0, r
    out = json.loads(r.out)
    assert out["id"] == aid and out["seq"] == 0, out
    assert out["publish_at"] > 0, out
    return aid, out["publish_at"]


def _alert(wz, aid):
    return wz.redis.hgetall("alert:" + aid)


def _listed(wz, cn, *args):
    r = wz.ctl(cn, "schedule", "list", "--json", *args)
    assert r.rc == 0, r
    return json.loads(r.out)


def _wait_released(wz, aid, timeout):
    return harness.wait_for(
        lambda: _alert(wz, aid).get("state") == "live" and _alert(wz, aid),
        timeout, "%s to be released" % aid, interval=0.02)


def test_held_alert_goes_out_on_time_and_not_before(sched):
    wz = sched
    agent = wz.start_agent("adv-a11")
    agent.proc.wait_log(r"connected to .* welcome principal", timeout=15)
    r = wz.ctl("desk-a", "publish", "--target", "school-a",
               "--headline", "放假前防范电信网络诈骗提醒", "--at", "+3s")
    assert r.rc == 0, r
    m = SCHED_RX.search(r.out)
    assert m and int(m.group(3)) == 7, r.out
    aid = m.group(1)
    a = _alert(wz, aid)
    assert a["state"] == "held" and a["seq"] == "0", a
    assert wz.redis.zrange("schedule") == [aid]
    assert aid not in wz.redis.zrange("live")
    assert not wz.redis.exists("rate:" + aid)

    listed = _listed(wz, "desk-a")
    assert [x["id"] for x in listed["alerts"]] == [aid], listed
    item = listed["alerts"][0]
    assert item["target"] == "school-a" and item["issuer"] == "desk-a"
    assert item["headline"] == "放假前防范电信网络诈骗提醒"
    assert item["status"] == "actual" and item["type"] == "alert"
    publish_at = item["publish_at"]
    # The officer above sees it too; school-b's desk does not.
    assert [x["id"] for x in _listed(wz, "officer-li")["alerts"]] == [aid]
    assert _listed(wz, "desk-b")["alerts"] == []
    # Table form.
    r = wz.ctl("desk-a", "schedule", "list")
    assert r.rc == 0 and aid in r.out and "1 held" in r.out, r

    time.sleep(max(0, publish_at / 1000.0 - time.time() - 0.8))
    assert aid not in agent.shown_ids(), "shown before its time"
    a = _wait_released(wz, aid, 5)
    late = int(a["accepted"]) - publish_at
    print("released %d ms after its time" % late)
    assert 0 <= late < FIRE_BOUND_MS, a
    assert int(a["seq"]) > 0
    agent.wait_shown(aid, timeout=5)
    shown_ms = time.time() * 1000
    assert shown_ms - publish_at < FIRE_BOUND_MS + 500
    assert wz.redis.zrange("schedule") == []
    assert _listed(wz, "desk-a")["alerts"] == []
    # A live alert like any other: counters, status, acks.
    r = wz.ctl("desk-a", "status", aid, "--json")
    assert r.rc == 0, r
    assert json.loads(r.out)["nodes"][0]["targeted"] == 7


def test_held_alert_survives_a_restart_and_fires_on_time(sched):
    wz = sched
    aid, publish_at = _hold(wz, "officer-li", "school-b", "+6s")
    assert wz.stop_daemon() == 0
    wz.start_daemon(**wz.daemon_opts)
    wz.daemon.wait_log(r"schedule: 1 held alert loaded", 10)
    agent = wz.start_agent("adv-b11")
    agent.proc.wait_log(r"connected to .* welcome principal", timeout=15)
    assert _alert(wz, aid)["state"] == "held"
    a = _wait_released(wz, aid, 10)
    late = int(a["accepted"]) - publish_at
    print("released %d ms after its time, across a restart" % late)
    assert 0 <= late < FIRE_BOUND_MS, a
    agent.wait_shown(aid, timeout=5)


def test_due_while_down_goes_out_at_start(sched):
    wz = sched
    aid, publish_at = _hold(wz, "officer-li", "school-a", "+2s")
    wz.kill_daemon()
    harness.wait_for(lambda: time.time() * 1000 > publish_at + 500, 5,
                     "the time to pass")
    wz.start_daemon(**wz.daemon_opts)
    ready = time.time() * 1000
    a = _wait_released(wz, aid, 5)
    assert int(a["accepted"]) - ready < FIRE_BOUND_MS, a
    wz.daemon.wait_log(r"alert %s seq \d+ accepted from the schedule" % aid,
                       5)


def test_cancelled_schedule_never_fires(sched):
    wz = sched
    agent = wz.start_agent("adv-a21")
    first = agent.proc.wait_log(r"connected to .* welcome principal",
                                timeout=15)
    keep, _ = _hold(wz, "desk-a", "school-a", "+4s", headline="保留的提醒")
    gone, publish_at = _hold(wz, "desk-a", "school-a", "+4s",
                             headline="将被取消的提醒")
    r = wz.ctl("desk-a", "schedule", "cancel", gone)
    assert r.rc == 0, r
    assert "nothing was sent" in r.out, r
    a = _alert(wz, gone)
    assert a["state"] == "cancelled" and a.get("cancelled_by"), a
    assert wz.redis.zrange("schedule") == [keep]
    assert [x["id"] for x in _listed(wz, "desk-a")["alerts"]] == [keep]
    # Cancelling again: it is not held any more.
    r = wz.ctl("desk-a", "schedule", "cancel", gone)
    assert r.rc == 1 and "is not held" in r.err, r
    # A restart in between changes nothing.
    assert wz.stop_daemon() == 0
    wz.start_daemon(**wz.daemon_opts)
    wz.daemon.wait_log(r"schedule: 1 held alert loaded", 10)
    agent.proc.wait_log(r"connected to .* welcome principal", timeout=30,
                        start=first.end())
    _wait_released(wz, keep, 10)
    agent.wait_shown(keep, timeout=5)
    harness.wait_for(lambda: time.time() * 1000 > publish_at + 1500, 5,
                     "past the cancelled one's time")
    assert gone not in agent.shown_ids()
    assert _alert(wz, gone)["state"] == "cancelled"
    assert gone not in wz.redis.zrange("live")
    assert not wz.redis.exists("rate:" + gone)
    assert not re.search(r"alert %s seq \d+ accepted" % gone,
                         wz.daemon.log()), "a cancelled alert went out"


def test_only_a_cancel_may_refer_to_a_held_alert(sched):
    wz = sched
    aid, _ = _hold(wz, "desk-a", "school-a", "+30s")
    r = wz.ctl("desk-a", "publish", "--target", "school-a", "--headline",
               "更新", "--type", "update", "--references", aid)
    assert r.rc == 1 and "bad-reference (309)" in r.err, r
    assert "can only be cancelled" in r.err, r
    # Not yours to see, not yours to cancel.
    r = wz.ctl("desk-b", "schedule", "cancel", aid)
    assert r.rc == 1 and "is not held" in r.err, r
    # Without issue or observe, no list at all.
    r = wz.ctl("adv-a11", "schedule", "list")
    assert r.rc == 1 and "forbidden (201)" in r.err, r
    r = wz.ctl("desk-a", "schedule", "list", "--node", "school-b")
    assert r.rc == 1 and "forbidden (201)" in r.err, r
    r = wz.ctl("desk-a", "schedule", "list", "--node", "no-such")
    assert r.rc == 1 and "unknown-node (304)" in r.err, r
    # A time in the past, or nonsense, is refused before anything is sent.
    r = wz.ctl("desk-a", "publish", "--target", "school-a", "--headline",
               "x", "--at", "2020-01-01T08:00")
    assert r.rc == 2 and "not in the future" in r.err, r
    r = wz.ctl("desk-a", "publish", "--target", "school-a", "--headline",
               "x", "--at", "tomorrow")
    assert r.rc == 2 and "--at tomorrow" in r.err, r
    # Still held, untouched.
    assert wz.redis.zrange("schedule") == [aid]


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
