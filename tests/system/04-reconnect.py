# SPDX-License-Identifier: ISC
"""
04-reconnect: what is pending reaches an agent when it comes (back), in
sequence order, and an agent never shows the same alert twice.
"""

import signal
import time

import pytest

import harness
import wuzha_proto as wp


def test_agent_offline_at_publish_gets_the_alert_when_it_starts(wz):
    aid, seq, targeted = wz.publish("officer-li", "school-a-d1")
    assert targeted == 3
    a = wz.start_agent("adv-a12")
    rec = a.wait_shown(aid)
    assert rec["WUZHA_SEQ"] == str(seq)
    harness.wait_for(lambda: wz.acks(aid).get("adv-a12", (0,))[0]
                     == wp.ACK_SHOWN, 10, "delivered, then shown ack")


def test_pending_alerts_arrive_in_sequence_order(wz):
    ids = []
    for target in ("school-b-d2-c1", "school-b", "jn-police", "school-b-d2"):
        aid, _, _ = wz.publish("officer-li", target, headline=target)
        ids.append(aid)
    # One alert not addressed to the agent, in the middle.
    other, _, _ = wz.publish("officer-li", "school-a")
    a = wz.start_agent("adv-b21")
    a.wait_shown(ids[-1])
    time.sleep(0.3)
    assert a.shown_ids() == ids
    assert other not in a.shown_ids()
    seqs = [int(r["WUZHA_SEQ"]) for r in a.shown()]
    assert seqs == sorted(seqs)


def test_pending_alerts_arrive_to_raw_session_with_resent_flag(wz):
    aid, seq, _ = wz.publish("officer-li", "school-a")
    fs, _ = wz.session("adv-a22")
    try:
        msg = fs.expect(wp.ALERT)
        assert msg["seq"] == seq
        assert msg["flags"] & 0x02, "pending alert not flagged RESENT"
        body = wp.verify_envelope(msg["envelope"], wp.load_cert(wz.ca))
        assert body["id"] == aid
        # Not acknowledged: it comes again on the next session.
    finally:
        fs.close()
    fs, _ = wz.session("adv-a22")
    try:
        msg = fs.expect(wp.ALERT)
        assert msg["seq"] == seq
        fs.send_raw(wp.ack(aid, wp.ACK_DELIVERED))
        assert fs.expect(wp.ACK_OK)["state"] == wp.ACK_DELIVERED
    finally:
        fs.close()
    # Acknowledged: nothing pending any more.
    fs, _ = wz.session("adv-a22")
    try:
        with pytest.raises(TimeoutError):
            t, m = fs.recv(1.5)
            raise AssertionError("got %s %r" % (wp.TYPE_NAMES.get(t), m))
    finally:
        fs.close()


def test_restarted_agent_does_not_show_an_alert_twice(wz):
    a = wz.start_agent("adv-a11")
    aid, _, _ = wz.publish("officer-li", "school-a")
    a.wait_shown(aid)
    # Shown, so the hook has returned (one still running at the stop is
    # killed, and its alert rightly handed over again at the next start).
    harness.wait_for(lambda: wz.acks(aid).get("adv-a11", (0,))[0]
                     == wp.ACK_SHOWN, 10, "the shown ack")
    a.stop()
    # Lose the ack, as if the daemon had died before storing it: the
    # alert is pending again and will be sent on reconnect.
    wz.redis.cmd("HDEL", wz.redis.k("ack:" + aid), "adv-a11")
    a = a.restart()
    # The agent acknowledges the duplicate again (so it is no longer
    # pending) but does not show it.
    harness.wait_for(lambda: "adv-a11" in wz.acks(aid), 15,
                     "the duplicate to be acknowledged")
    sentinel, _, _ = wz.publish("officer-li", "school-a-d1-c1")
    a.wait_shown(sentinel)
    assert a.shown_ids() == [aid, sentinel]


def test_failed_hook_means_delivered_not_shown_and_it_runs_again(wz):
    # The agent has the alert (verified, kept): delivered.  The hook did
    # not put it before anyone: not shown.  After a restart the kept
    # alert goes to the hook again, without the daemon sending it.
    a = wz.start_agent("adv-a21", hook_exit=3)
    aid, _, _ = wz.publish("officer-li", "school-a-d2")
    a.proc.wait_log(r"alert %s seq \d+: hook failed with exit status 3"
                    % aid, timeout=15)
    a.proc.wait_log(r"alert %s seq \d+ not shown" % aid, timeout=5)
    harness.wait_for(lambda: "adv-a21" in wz.acks(aid), 10,
                     "the delivered ack")
    time.sleep(0.5)
    assert wz.acks(aid)["adv-a21"][0] == 1, "a failed hook was taken as shown"
    a.stop()
    # The failed runs wrote their records too; count from here.
    before = a.shown_ids().count(aid)
    assert before >= 1
    a = wz.start_agent("adv-a21")
    harness.wait_for(lambda: a.shown_ids().count(aid) == before + 1, 15,
                     "the alert to be shown again")
    harness.wait_for(lambda: wz.acks(aid)["adv-a21"][0] == 4, 10,
                     "the shown ack (state 4)")
    time.sleep(0.3)
    assert a.shown_ids().count(aid) == before + 1


def test_agent_killed_and_restarted_gets_what_was_published_meanwhile(wz):
    a = wz.start_agent("liaison-b1")
    first, _, _ = wz.publish("officer-li", "school-b")
    a.wait_shown(first)
    # The agent records an alert as handed over after the hook returns
    # and before it acknowledges it as shown; killed in between it would
    # rightly show the alert again (at least once).  Kill it once the
    # shown ack is stored.
    harness.wait_for(lambda: wz.acks(first).get("liaison-b1", (0,))[0]
                     == wp.ACK_SHOWN, 10, "the shown ack")
    a.stop(signal.SIGKILL)
    second, _, _ = wz.publish("desk-b", "school-b-d1")
    a = a.restart()
    a.wait_shown(second)
    time.sleep(0.3)
    assert a.shown_ids() == [first, second]


def test_agent_reconnects_after_daemon_restart(wz):
    # Same port after the restart, one outside the ephemeral range.
    wz.stop_daemon()
    wz.start_daemon(port=harness.fixed_port())
    a = wz.start_agent("adv-b11")
    first, _, _ = wz.publish("officer-li", "school-b")
    a.wait_shown(first)
    port = wz.port
    assert wz.stop_daemon() == 0
    wz.start_daemon(port=port)
    assert wz.port == port
    second, _, _ = wz.publish("officer-li", "school-b-d1-c1")
    a.wait_shown(second, timeout=20)
    time.sleep(0.3)
    assert a.shown_ids() == [first, second]
    assert a.proc.alive()


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
