# SPDX-License-Identifier: ISC
"""
30-ack-quiet: the QUIET flag on ACK (PROTOCOL.md 4.6).  A quiet ack is
stored like any other and gets no ACK_OK; a refused one still gets its
ERROR; an ack without the flag (an agent from before it, or a person's
read) still gets ACK_OK.  wuzha-agent sends its delivered quiet, and
falls back to plain acks against a daemon that refuses the flag.
"""

import re
import time

import pytest

import harness
import wuzha_proto as wp


def _no_frame(fs, seconds):
    """Assert that nothing but PINGs comes within seconds."""
    with pytest.raises(TimeoutError):
        t, m = fs.recv(seconds)
        raise AssertionError("got %s %r" % (wp.TYPE_NAMES.get(t), m))


def _pending_alert(wz, cn, target="school-a"):
    """Publish to target; open a raw agent session for cn that has the
    ALERT.  Returns (session, alert id)."""
    aid, seq, _ = wz.publish("officer-li", target)
    fs, _ = wz.session(cn)
    msg = fs.expect(wp.ALERT)
    assert msg["seq"] == seq
    return fs, aid


def test_quiet_delivered_ack_is_stored_and_gets_no_ack_ok(wz):
    fs, aid = _pending_alert(wz, "adv-a22")
    try:
        fs.send_raw(wp.ack(aid, wp.ACK_DELIVERED, flags=wp.ACK_QUIET))
        harness.wait_for(lambda: "adv-a22" in wz.acks(aid), 10,
                         "the quiet ack in ack:%s" % aid)
        assert wz.acks(aid)["adv-a22"][0] == wp.ACK_DELIVERED
        assert wz.rate(aid)["school-a"]["delivered"] == 1
        _no_frame(fs, 1.5)
        # The session is still good: a PING is answered.
        fs.send_raw(wp.ping(77))
        t, msg = fs.recv(10, skip_pings=False)
        assert t == wp.PONG and msg["nonce"] == 77, (t, msg)
    finally:
        fs.close()
    # Stored as delivered: nothing pending on the next session.
    fs, _ = wz.session("adv-a22")
    try:
        _no_frame(fs, 1.5)
    finally:
        fs.close()


def test_quiet_ack_of_a_state_already_stored_gets_nothing(wz):
    fs, aid = _pending_alert(wz, "adv-a21")
    try:
        fs.send_raw(wp.ack(aid, wp.ACK_DELIVERED))
        assert fs.expect(wp.ACK_OK)["state"] == wp.ACK_DELIVERED
        fs.send_raw(wp.ack(aid, wp.ACK_DELIVERED, flags=wp.ACK_QUIET))
        _no_frame(fs, 1.5)
    finally:
        fs.close()
    assert wz.rate(aid)["school-a"]["delivered"] == 1


def test_unflagged_delivered_ack_still_gets_ack_ok(wz):
    # What agents from before the flag send.
    fs, aid = _pending_alert(wz, "adv-a12")
    try:
        fs.send_raw(wp.ack(aid, wp.ACK_DELIVERED))
        msg = fs.expect(wp.ACK_OK)
        assert (msg["id"], msg["state"]) == (aid, wp.ACK_DELIVERED)
    finally:
        fs.close()
    assert wz.acks(aid)["adv-a12"][0] == wp.ACK_DELIVERED


def test_read_ack_without_the_flag_gets_ack_ok(wz):
    fs, aid = _pending_alert(wz, "adv-a11")
    try:
        fs.send_raw(wp.ack(aid, wp.ACK_DELIVERED, flags=wp.ACK_QUIET))
        fs.send_raw(wp.ack(aid, wp.ACK_READ))
        msg = fs.expect(wp.ACK_OK)
        assert (msg["id"], msg["state"]) == (aid, wp.ACK_READ)
        _no_frame(fs, 1.0)
    finally:
        fs.close()
    assert wz.acks(aid)["adv-a11"][0] == wp.ACK_READ
    # A person's read through wuzhactl waits for its ACK_OK, and gets it.
    aid2, _, _ = wz.publish("officer-li", "school-a")
    r = wz.ctl("adv-a11", "ack", aid2, "read")
    assert r.rc == 0, r
    assert wz.acks(aid2)["adv-a11"][0] == wp.ACK_READ


def test_quiet_ack_that_is_refused_still_gets_its_error(wz):
    fs, aid = _pending_alert(wz, "adv-a22")
    try:
        fs.send_raw(wp.ack("no-such-alert", wp.ACK_DELIVERED,
                           flags=wp.ACK_QUIET))
        t, msg = fs.recv(10)
        assert t == wp.ERROR and msg["code"] == wp.E_UNKNOWN_ALERT, (t, msg)
        assert msg.get("ref") == "no-such-alert"
        # Not addressed to this agent: refused, quiet or not.
        other, _, _ = wz.publish("officer-li", "school-b")
        fs.send_raw(wp.ack(other, wp.ACK_DELIVERED, flags=wp.ACK_QUIET))
        t, msg = fs.recv(10)
        assert t == wp.ERROR and msg["code"] == wp.E_NOT_ADDRESSED, (t, msg)
        assert msg.get("ref") == other
    finally:
        fs.close()
    assert wz.acks(other) == {}


def test_ack_with_an_unknown_flag_is_refused(wz):
    fs, aid = _pending_alert(wz, "adv-a21")
    try:
        fs.send_raw(wp.ack(aid, wp.ACK_DELIVERED, flags=0x02))
        t, msg = fs.recv(10)
        assert t == wp.ERROR and msg["code"] == wp.E_VALUE, (t, msg)
    finally:
        fs.close()
    assert "adv-a21" not in wz.acks(aid)


def test_lost_quiet_ack_comes_back_as_resent(wz):
    # The session ends before the daemon reads the ack: nothing tells
    # the agent, and the alert comes again on the next session.
    fs, aid = _pending_alert(wz, "adv-a12")
    fs.close()
    fs, _ = wz.session("adv-a12")
    try:
        msg = fs.expect(wp.ALERT)
        assert msg["flags"] & 0x02, "pending alert not flagged RESENT"
        fs.send_raw(wp.ack(aid, wp.ACK_DELIVERED, flags=wp.ACK_QUIET))
        harness.wait_for(lambda: "adv-a12" in wz.acks(aid), 10,
                         "the quiet ack of the copy")
    finally:
        fs.close()


def test_agent_sends_delivered_quiet(wz):
    a = wz.start_agent("adv-a11")
    aid, _, _ = wz.publish("officer-li", "school-a-d1-c1")
    a.wait_shown(aid)
    harness.wait_for(lambda: "adv-a11" in wz.acks(aid), 10,
                     "the agent's delivered ack")
    # An ACK_OK goes out as soon as Redis answers: it would be here by now.
    time.sleep(1.0)
    assert re.search(r"ack sent %s delivered" % re.escape(aid), a.log())
    assert "ACK_OK %s delivered" % aid not in a.log(), a.proc.tail()
    # A person's read still goes with an answer.
    assert wz.ctl("adv-a11", "ack", aid, "read").rc == 0


@pytest.fixture
def old_daemon(env):
    """A daemon from before the flag (a rogue one standing in for it)."""
    env.set_tree(harness.demo_tree())
    env.make_pki(["officer-li", "adv-a11"])
    r = wp.RogueDaemon(env.ca, env.crt("wuzhad"), env.key("wuzhad"),
                       node="school-a-d1-c1", old_acks=True)
    key = wp.load_key(env.key("officer-li"))
    cert = wp.load_cert(env.crt("officer-li"))
    aid = "old-daemon-%d" % wp.now_ms()
    body = wp.alert_body(aid, "officer-li", "school-a")
    r.alerts.append(wp.signed_envelope(body, key, cert))
    r.start()
    env.port = r.port
    try:
        yield env, r, aid
    finally:
        r.stop()


def test_agent_falls_back_to_plain_acks_with_an_old_daemon(old_daemon):
    env, r, aid = old_daemon
    a = env.start_agent("adv-a11")
    harness.wait_for(lambda: any(m["id"] == aid for m in r.acks()), 30,
                     "a plain ack after the quiet one was refused")
    assert r.refused == 1
    assert r.sessions == 2
    assert all(not m.get("flags") for m in r.acks())
    # Shown once: the second copy is acknowledged, not shown again.
    a.wait_shown(aid)
    time.sleep(0.3)
    assert a.shown_ids() == [aid]
    assert "the daemon does not know quiet acks" in a.log()
