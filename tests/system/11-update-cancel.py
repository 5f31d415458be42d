# SPDX-License-Identifier: ISC
"""
11-update-cancel: an update or a cancel reaches every agent the original
reached, online or not, in sequence order, and each agent shows it with
the id it refers to; a cancel withdraws the original at the agent, so a
copy of the original that comes after the cancel is acknowledged but not
shown, across a restart too.  An update or cancel from a principal
without the right to issue over the original's target, or naming an
unknown alert, is refused and leaves Redis alone.
"""

import os
import time

import pytest

import harness
import wuzha_proto as wp


def _publish_ref(wz, cn, target, kind, ref, **kw):
    """Publish an update or cancel of ref; returns (id, seq, targeted)."""
    return wz.publish(cn, target, headline="%s of %s" % (kind, ref),
                      extra=("--type", kind, "--references", ref), **kw)


def _live(wz):
    return set(wz.redis.zrange("live"))


def _state_lines(agent):
    with open(agent.state_file, encoding="utf-8") as f:
        return f.read().splitlines()


def _wait_acked(wz, alert_id, cn, timeout=10):
    harness.wait_for(lambda: wz.acks(alert_id).get(cn, (0,))[0]
                     >= wp.ACK_DELIVERED, timeout,
                     "%s to acknowledge %s" % (cn, alert_id))


def test_update_and_cancel_reach_every_agent_the_original_reached(wz):
    online = [wz.start_agent(cn) for cn in ("desk-a", "adv-a11")]
    other = wz.start_agent("adv-b11")
    for a in online + [other]:
        a.proc.wait_log(r"connected to .* welcome principal", timeout=15)
    orig, oseq, targeted = wz.publish("officer-li", "school-a")
    assert targeted == len(wz.tree.receivers("school-a")) == 7
    for a in online:
        a.wait_shown(orig)
    upd, useq, n = _publish_ref(wz, "officer-li", "school-a", "update", orig)
    assert n == targeted
    can, cseq, n = _publish_ref(wz, "officer-li", "school-a", "cancel", orig)
    assert n == targeted
    assert oseq < useq < cseq

    for a in online:
        a.wait_shown(can)
        time.sleep(0.2)
        recs = a.shown()
        assert [r["WUZHA_ID"] for r in recs] == [orig, upd, can], a.cn
        assert [r["WUZHA_TYPE"] for r in recs] == ["alert", "update",
                                                   "cancel"]
        assert [r["WUZHA_REFERENCES"] for r in recs] == ["", orig, orig]
        for aid in (orig, upd, can):
            _wait_acked(wz, aid, a.cn)
        a.proc.wait_log(r"alert %s withdrawn" % orig, timeout=5)
        # The withdrawal is in the state file (format version 3: with
        # the envelope's hash, which receipts sign, last on the line).
        lines = _state_lines(a)
        assert lines[0] == "wuzha-agent-state 3"
        assert any(ln.startswith(orig + " ") and
                   ln.split(" ")[2:3] == ["withdrawn"]
                   for ln in lines), lines

    # Not below school-a: none of the three.
    sentinel, _, _ = wz.publish("officer-li", "school-b-d1-c1")
    other.wait_shown(sentinel)
    assert other.shown_ids() == [sentinel]

    # Offline while all three were published: the cancel retired the
    # original (no longer live), so the update and the cancel come, in
    # sequence order.
    live = _live(wz)
    assert can in live and upd in live and orig not in live
    assert wz.redis.cmd("HGET", wz.prefix + "alert:" + orig,
                        "cancelled_by") == can.encode()
    expected = [upd, can]
    late = wz.start_agent("adv-a22")
    late.wait_shown(can)
    time.sleep(0.3)
    recs = late.shown()
    assert [r["WUZHA_ID"] for r in recs] == expected
    seqs = [int(r["WUZHA_SEQ"]) for r in recs]
    assert seqs == sorted(seqs)
    assert recs[-1]["WUZHA_TYPE"] == "cancel"
    assert recs[-1]["WUZHA_REFERENCES"] == orig
    for aid in expected:
        _wait_acked(wz, aid, "adv-a22")


def test_cancel_shown_first_withdraws_the_original(wz):
    # A hook that fails for plain alerts while the flag file exists: the
    # original is delivered (the agent has it) but not shown, the cancel
    # is shown; the cancel ends the original's retries.
    cn = "adv-a12"
    flag = os.path.join(wz.dir, "fail-alerts")
    open(flag, "w").close()
    shown = os.path.join(wz.dir, "agent-%s.jsonl" % cn)
    hook = ('[ "$WUZHA_TYPE" != alert ] || [ ! -e %s ] || exit 5; '
            "%s %s %s 0" % (flag, harness.PYTHON,
                            os.path.join(wz.dir, "hook.py"), shown))
    conf = wz.client_conf(cn, name="agent-" + cn, hook=hook,
                          state=os.path.join(wz.dir, "agent-%s.state" % cn))
    a = wz.start_agent(cn, conf=conf)
    orig, _, _ = wz.publish("officer-li", "school-a-d1")
    a.proc.wait_log(r"alert %s seq \d+: hook failed with exit status 5"
                    % orig, timeout=15)
    can, _, _ = _publish_ref(wz, "officer-li", "school-a-d1", "cancel", orig)
    rec = a.wait_shown(can)
    assert rec["WUZHA_TYPE"] == "cancel"
    assert rec["WUZHA_REFERENCES"] == orig
    a.proc.wait_log(r"alert %s withdrawn" % orig, timeout=5)
    # Shown: the hook has returned and the agent has noted it as handed
    # over (a hook still running at the stop would rightly run again).
    harness.wait_for(lambda: wz.acks(can).get(cn, (0,))[0] == wp.ACK_SHOWN,
                     10, "%s to acknowledge %s as shown" % (cn, can))
    assert wz.acks(orig)[cn][0] == wp.ACK_DELIVERED

    # A new process: the withdrawal comes from the state file and the
    # inbox, so the original is not handed to the hook again.
    os.unlink(flag)
    a = a.restart()
    sentinel, _, _ = wz.publish("officer-li", "school-a-d1-c2")
    a.wait_shown(sentinel)
    time.sleep(0.3)
    assert a.shown_ids() == [can, sentinel]


def test_printed_cancel_and_update_name_the_original(wz):
    cn = "liaison-b2"
    conf = wz.client_conf(cn, name="agent-" + cn,
                          state=os.path.join(wz.dir, "agent-%s.state" % cn))
    a = wz.start_agent(cn, conf=conf)
    orig, _, _ = wz.publish("desk-b", "school-b-d2", headline="原预警")
    a.proc.wait_out(r"^==== wuzha alert %s " % orig, timeout=15)
    upd, _, _ = _publish_ref(wz, "desk-b", "school-b-d2", "update", orig)
    can, _, _ = _publish_ref(wz, "desk-b", "school-b-d2", "cancel", orig)
    a.proc.wait_out(r"^==== end of %s ====$" % can, timeout=15)
    out = a.proc.out()
    blocks = out.split("==== wuzha alert ")[1:]
    assert [b.split(" ", 1)[0] for b in blocks] == [orig, upd, can]
    assert "UPDATE of %s\n" % orig in blocks[1]
    assert "CANCELLED: %s\n" % orig in blocks[2]
    assert "CANCELLED" not in blocks[0] + blocks[1]
    assert "UPDATE of" not in blocks[0] + blocks[2]


# --- refusals -------------------------------------------------------------

@pytest.mark.parametrize("kind", ["update", "cancel"])
@pytest.mark.parametrize("cn,target,code", [
    # No issue right at all.
    ("adv-a11", "school-a", ("forbidden", 201)),
    # Issue right, but not over the original's target.
    ("desk-b", "school-a", ("target-not-allowed", 303)),
    # Nor by aiming at its own subtree instead.
    ("desk-b", "school-b", ("bad-reference", 309)),
])
def test_update_or_cancel_without_issue_over_the_target_is_refused(
        wz, kind, cn, target, code):
    orig, _, _ = wz.publish("officer-li", "school-a")
    before = wz.store_snapshot()
    aid = wz.new_id("ref")
    r = _publish_ref(wz, cn, target, kind, orig, alert_id=aid,
                     expect_ok=False)
    assert r.rc == 1, r
    assert r.error() and r.error()[:2] == code, r
    assert r.error()[2], r
    assert wz.store_snapshot() == before, "a refused %s changed Redis" % kind
    assert not wz.redis.exists("alert:" + aid)
    assert orig in _live(wz)


@pytest.mark.parametrize("kind", ["update", "cancel"])
def test_update_or_cancel_of_an_unknown_alert_is_refused_with_308(wz, kind):
    # PROTOCOL.md 6.4: the referenced alert must exist (308); 309 is for a
    # reference that is wrong in itself (another target, a held alert).
    before = wz.store_snapshot()
    aid = wz.new_id("ref")
    r = _publish_ref(wz, "officer-li", "school-a", kind, "no-such-alert-1",
                     alert_id=aid, expect_ok=False)
    assert r.rc == 1, r
    assert r.error() and r.error()[:2] == ("unknown-alert", 308), r
    assert "no-such-alert-1, which is not a live alert" in r.error()[2], r
    assert wz.store_snapshot() == before
    assert not wz.redis.exists("alert:" + aid)


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
