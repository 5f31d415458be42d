# SPDX-License-Identifier: ISC
"""
14-remind: an alert nobody has confirmed as read is pushed again, flagged
as a reminder, at most max_reminders times and remind_after apart; once
escalate_after has passed, the nearest observers above each person who
has not read it are told, with each one's acknowledgement state.  The
escalation is stored, so an observer who connects later gets it, once.
Timers come from wuzhad.yaml's `delivery` or from the issuer's PUBLISH,
and survive a daemon restart without firing twice.  A reload while an
escalation waits for Redis neither crashes nor loses it.
"""

import os
import signal
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


escalations = harness.escalations


def first_escalation(fs, timeout):
    """The first ESCALATION on fs within timeout seconds, or None."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            t, msg = fs.recv(timeout=left)
        except TimeoutError:
            return None
        if t == wp.ESCALATION:
            return msg


def listed(msg):
    return sorted((m["cn"], m["node"], m["state"]) for m in msg["members"])


def test_escalation_names_who_has_not_read_to_observers_above(env):
    env.setup(delivery={"remind_after": "1h", "max_reminders": 0,
                        "escalate_after": "1500ms"})
    # desk-a (receive + observe at school-a) listens as an agent; nobody
    # between the department and the school observes.
    fs, welcome = env.session("desk-a")
    try:
        assert welcome["node"] == "school-a"
        aid, _, targeted = env.publish("officer-li", "school-a-d1")
        assert targeted == 3
        # liaison-a1 reads it; the two advisors do not.
        r = env.ctl("liaison-a1", "ack", aid, "read")
        assert r.rc == 0, r
        msg = first_escalation(fs, 10)
        assert msg is not None
        assert msg["id"] == aid and msg["node"] == "school-a"
        assert listed(msg) == [("adv-a11", "school-a-d1-c1", wp.ACK_NONE),
                               ("adv-a12", "school-a-d1-c2", wp.ACK_NONE)]
        env.daemon.wait_log(r"alert %s: escalated to 1 connected observers "
                            r"at school-a: 2 not read: adv-a1[12] adv-a1[12]"
                            % aid, timeout=5)
        assert "at school-a-d1:" not in env.daemon.log()
        # One escalation per alert.
        assert escalations(fs, 1.5) == []
        assert env.redis.cmd("HGET", env.prefix + "alert:" + aid,
                             "escalated") == b"1"
    finally:
        fs.close()


def class_tree():
    """The demo tree with a second person in class school-a-d1-c1 and a
    second observer (observe only) at school-a."""
    t = harness.demo_tree()
    t.principal("adv-a11b", "school-a-d1-c1", "receive")
    t.principal("desk-a2", "school-a", "observe")
    return t


def test_class_escalation_reaches_the_school_desk_with_real_states(env):
    env.setup(tree=class_tree(),
              delivery={"remind_after": "1h", "max_reminders": 0,
                        "escalate_after": "2s"})
    adv = env.start_agent("adv-a11")
    adv.proc.wait_log("connected to", timeout=15)
    fs, _ = env.session("desk-a")
    try:
        aid, _, targeted = env.publish("officer-li", "school-a-d1-c1")
        assert targeted == 2
        # adv-a11's agent acknowledges delivery, its hook shows it; nobody
        # reads it.
        adv.wait_shown(aid)
        harness.wait_for(lambda: env.acks(aid).get("adv-a11", (0,))[0]
                         == wp.ACK_SHOWN, 5, "adv-a11 shown")
        msg = first_escalation(fs, 10)
        assert msg is not None
        # Neither the class nor its department has an observer.
        assert msg["id"] == aid and msg["node"] == "school-a", msg
        assert listed(msg) == [
            ("adv-a11", "school-a-d1-c1", wp.ACK_SHOWN),
            ("adv-a11b", "school-a-d1-c1", wp.ACK_NONE)]
        env.daemon.wait_log(r"alert %s: escalated to 1 connected observers "
                            r"at school-a: 2 not read" % aid, timeout=5)
        # Stored for the observers' node, expiring with the alert, with
        # desk-a noted as told.
        key = env.prefix + "escalation:" + aid
        stored = env.redis.hgetall("escalation:" + aid)
        assert set(stored) == {"school-a", "told:desk-a"}, stored
        ttl = env.redis.cmd("PTTL", key)
        assert 0 < ttl <= 24 * 3600 * 1000, ttl
        assert env.redis.zrange("node-escalations:school-a") == [aid]
        raw = env.redis.hget_raw("escalation:" + aid, "school-a")
        t, n = wp.frame_header(raw)
        assert t == wp.ESCALATION and len(raw) == wp.FRAME_HDR + n
        assert listed(wp.decode(t, raw[wp.FRAME_HDR:])) == listed(msg)
    finally:
        fs.close()

    # desk-a was told live: reconnecting brings nothing again.
    fs, _ = env.session("desk-a")
    try:
        assert escalations(fs, 1.5) == []
    finally:
        fs.close()

    # desk-a2 was not connected: it gets the escalation when it comes,
    # after its WELCOME, once.
    fs, _ = env.session("desk-a2")
    try:
        got = escalations(fs, 2)
        assert len(got) == 1, got
        assert got[0]["id"] == aid and got[0]["node"] == "school-a"
        assert listed(got[0]) == listed(msg)
    finally:
        fs.close()
    env.daemon.wait_log(r"desk-a2@[^:]+:\d+: 1 stored escalation sent",
                        timeout=5)
    fs, _ = env.session("desk-a2")
    try:
        assert escalations(fs, 1.5) == []
    finally:
        fs.close()
    assert "told:desk-a2" in env.redis.hgetall("escalation:" + aid)


@pytest.mark.parametrize("changed", [False, True],
                         ids=["same-tree", "changed-tree"])
def test_reload_while_an_escalation_waits_for_redis(private_env, changed):
    """
    SIGHUP with Redis stopped: the reload's first call is sent and
    waits; then the escalation timer fires and its script waits behind
    it.  When Redis goes on, the escalation's reply and the reload's
    steps interleave: whichever tree is current when the reply is read
    names the members, and the old one is never read once freed.
    """
    env = private_env
    env.setup(delivery={"remind_after": "1h", "max_reminders": 0,
                        "escalate_after": "2s"},
              timeouts={"tree_refresh": "1h"},
              redis={"command_timeout": "20s"})
    fs, _ = env.session("desk-a")
    try:
        if changed:
            t = harness.demo_tree()
            t.principals = [p for p in t.principals if p["cn"] != "adv-a12"]
            env.set_tree(t)
        aid, _, _ = env.publish("officer-li", "school-a-d1")
        t0 = time.monotonic()
        if changed:
            env.import_tree()	# polling is off: only SIGHUP reads it
        mark = len(env.daemon.log())
        os.kill(env.redis_proc.pid, signal.SIGSTOP)
        try:
            env.daemon.proc.send_signal(signal.SIGHUP)
            env.daemon.wait_log(r"reload: configuration", timeout=5,
                                start=mark)
            # The escalation is due 2 s after acceptance; the tick that
            # fires it comes within a second after that.
            time.sleep(max(0, t0 + 3.5 - time.monotonic()))
        finally:
            os.kill(env.redis_proc.pid, signal.SIGCONT)
        swapped = env.daemon.wait_log(r"tree: generation \d+: ",
                                      timeout=10, start=mark)
        told = env.daemon.wait_log(r"alert %s: escalated to 1 connected "
                                   r"observers at school-a: (\d) not read: "
                                   r"([^\n]*)\n" % aid, timeout=10,
                                   start=mark)
        # The tree is read in several calls, so the escalation's reply may
        # come before the swap or after it; either way it is the tree of
        # that moment that names who has not read, and nothing breaks.
        if swapped.start() < told.start() and changed:
            names = "liaison-a1 adv-a11"
        else:
            names = "liaison-a1 adv-a11 adv-a12"
        assert told.group(2) == names, told.group(0)
        assert int(told.group(1)) == len(names.split())
        msg = first_escalation(fs, 5)
        assert msg is not None and msg["id"] == aid
        assert [m["cn"] for m in msg["members"]] == names.split()
        assert env.daemon.alive()
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
