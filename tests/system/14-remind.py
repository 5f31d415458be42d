# SPDX-License-Identifier: ISC
"""
14-remind: an alert nobody has confirmed as read is pushed again, flagged
as a reminder, at most max_reminders times and remind_after apart; once
escalate_after has passed, the observers one level up are told who has
not read it.  Timers come from wuzhad.yaml's `delivery` or from the
issuer's PUBLISH, and survive a daemon restart without firing twice.
"""

import time

import pytest

import harness
import wuzha_proto as wp


def shown_times(agent, want, timeout):
    """Poll the agent's hook output; (arrival times, records) once want seen."""
    seen, times = 0, []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        recs = agent.shown()
        while seen < len(recs):
            times.append(time.monotonic())
            seen += 1
        if seen >= want:
            return times, recs
        time.sleep(0.02)
    return times, agent.shown()


def test_unread_alert_is_reminded_max_times_and_spaced(env):
    env.setup(delivery={"remind_after": "1s", "max_reminders": 2,
                        "escalate_after": "1h"})
    a11 = env.start_agent("adv-a11")
    a12 = env.start_agent("adv-a12")
    for a in (a11, a12):
        a.proc.wait_log("connected to", timeout=15)
    aid, _, targeted = env.publish("officer-li", "school-a-d1")
    assert targeted == 3
    a12.wait_shown(aid)
    r = env.ctl("adv-a12", "ack", aid, "read")
    assert r.rc == 0, r

    times, recs = shown_times(a11, 3, timeout=8)
    assert [x["WUZHA_ID"] for x in recs] == [aid] * 3, recs
    assert [x["WUZHA_REMINDER"] for x in recs] == ["0", "1", "1"]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(0.6 <= g <= 2.5 for g in gaps), gaps
    # No third reminder, and nothing for the advisor who read it.
    time.sleep(2.0)
    assert len(a11.shown()) == 3
    assert [x["WUZHA_REMINDER"] for x in a12.shown()] == ["0"]
    assert env.redis.cmd("HGET", env.prefix + "alert:" + aid,
                         "reminded") == b"2"


def test_issuer_timers_override_the_defaults(env):
    env.setup(delivery={"remind_after": "1h", "escalate_after": "1h"})
    a = env.start_agent("adv-b11")
    a.proc.wait_log("connected to", timeout=15)
    aid, _, _ = env.publish("officer-li", "school-b-d1-c1",
                            extra=("--remind-after", "500ms",
                                   "--max-reminders", "1"))
    _, recs = shown_times(a, 2, timeout=6)
    assert [x["WUZHA_REMINDER"] for x in recs] == ["0", "1"]
    time.sleep(1.5)
    assert len(a.shown()) == 2


def test_escalation_names_who_has_not_read_to_observers_above(env):
    env.setup(delivery={"remind_after": "1h", "max_reminders": 0,
                        "escalate_after": "1500ms"})
    # desk-a (receive + observe at school-a) listens as an agent.
    fs, welcome = env.session("desk-a")
    try:
        assert welcome["node"] == "school-a"
        aid, _, targeted = env.publish("officer-li", "school-a-d1")
        assert targeted == 3
        # liaison-a1 reads it; the two advisors do not.
        r = env.ctl("liaison-a1", "ack", aid, "read")
        assert r.rc == 0, r
        env.daemon.wait_log(r"alert %s: escalated to 0 connected observers "
                            r"at school-a-d1: 2 not read: adv-a11 adv-a12"
                            % aid, timeout=10)
        # Nobody below school-a (the parent of liaison-a1's node) is
        # unread, so desk-a gets no escalation for this alert.
        with pytest.raises(TimeoutError):
            while True:
                t, msg = fs.recv(timeout=1.0)
                assert t != wp.ESCALATION, msg

        # A second alert nobody reads: desk-a is told about liaison-a1.
        aid2, _, _ = env.publish("officer-li", "school-a-d1")
        t, msg = None, None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            t, msg = fs.recv(timeout=deadline - time.monotonic())
            if t == wp.ESCALATION:
                break
        assert t == wp.ESCALATION, (t, msg)
        assert msg["id"] == aid2 and msg["node"] == "school-a"
        assert [(m["cn"], m["node"], m["state"]) for m in msg["members"]] == \
            [("liaison-a1", "school-a-d1", 0)]
        assert env.redis.cmd("HGET", env.prefix + "alert:" + aid2,
                             "escalated") == b"1"
    finally:
        fs.close()


def test_timers_survive_a_restart_and_do_not_fire_twice(env):
    env.setup(delivery={"remind_after": "1s", "max_reminders": 3,
                        "escalate_after": "1h"})
    aid, _, _ = env.publish("officer-li", "school-a-d2-c1")
    env.stop_daemon()
    # Down through two due times: one reminder round when it comes back.
    time.sleep(2.3)
    env.start_daemon()
    m = env.daemon.wait_log(r"alert %s: reminder (\d) of 3 pushed" % aid,
                            timeout=10)
    # Rounds missed while down collapse into the latest one.
    assert int(m.group(1)) >= 2, m.group(0)
    env.daemon.wait_log(r"alert %s: reminder 3 of 3 pushed" % aid,
                        timeout=10)
    time.sleep(1.5)
    log = env.daemon.log()
    assert "alert %s: reminder 1 of 3" % aid not in log
    for n in (2, 3):
        assert log.count("alert %s: reminder %d of 3" % (aid, n)) <= 1
    assert env.redis.cmd("HGET", env.prefix + "alert:" + aid,
                         "reminded") == b"3"


def test_a_desk_agent_logs_the_escalation_it_receives(env):
    env.setup(delivery={"remind_after": "1h", "max_reminders": 0,
                        "escalate_after": "1s"})
    desk = env.start_agent("desk-a")
    desk.proc.wait_log("connected to", timeout=15)
    aid, _, _ = env.publish("officer-li", "school-a-d2")
    desk.proc.wait_log(r"escalation: alert %s not read by liaison-a2 at "
                       r"school-a-d2 \(none\)" % aid, timeout=10)
    # The alert was for school-a-d2, below the desk: nothing shown to it.
    assert desk.shown_ids() == []
