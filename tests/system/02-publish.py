# SPDX-License-Identifier: ISC
"""
02-publish: who an alert reaches, and every way the daemon must refuse a
PUBLISH (with the documented code, nothing stored, others still served).
"""

import json
import os
import signal
import time

import pytest

import harness
import wuzha_proto as wp


RECEIVERS = ["desk-a", "desk-b", "liaison-a1", "liaison-a2", "liaison-b1",
             "liaison-b2", "adv-a11", "adv-a12", "adv-a21", "adv-a22",
             "adv-b11", "adv-b12", "adv-b21", "adv-b22"]


@pytest.fixture
def world(wz):
    """The demo world with an agent for every receiving principal."""
    agents = {cn: wz.start_agent(cn) for cn in RECEIVERS}
    return wz, agents


def _settle(agents, sentinel, timeout=20):
    """Wait until every agent showed the sentinel (published last)."""
    for a in agents.values():
        a.wait_shown(sentinel, timeout)


def test_officer_publish_to_school_a_reaches_exactly_school_a(world):
    wz, agents = world
    aid, seq, targeted = wz.publish("officer-li", "school-a",
                                    headline="校园贷诈骗预警",
                                    text="近期有冒充客服的诈骗电话。\n请提醒学生。")
    expected = wz.tree.receivers("school-a")
    assert expected == sorted(["desk-a", "liaison-a1", "liaison-a2",
                               "adv-a11", "adv-a12", "adv-a21", "adv-a22"])
    assert targeted == len(expected)
    assert seq >= 1
    for cn in expected:
        rec = agents[cn].wait_shown(aid)
        assert rec["WUZHA_ISSUER"] == "officer-li"
        assert rec["WUZHA_TARGET"] == "school-a"
        assert rec["WUZHA_HEADLINE"] == "校园贷诈骗预警"
        assert rec["WUZHA_SEQ"] == str(seq)
        assert rec["WUZHA_CATEGORY"] == "warning"
        assert rec["WUZHA_PRINCIPAL"] == cn
        assert "近期有冒充客服的诈骗电话。\n请提醒学生。" in rec["stdin"]
    # A sentinel to everyone: once each agent shows it, it has been sent
    # everything published before it, in seq order.
    sentinel, _, t2 = wz.publish("officer-li", "jn-police",
                                 headline="sentinel")
    assert t2 == len(RECEIVERS)
    _settle(agents, sentinel)
    for cn, a in agents.items():
        n = a.shown_ids().count(aid)
        assert n == (1 if cn in expected else 0), (cn, a.shown_ids())
        assert a.shown_ids().count(sentinel) == 1, cn


def test_desk_publish_to_own_department_reaches_only_it(world):
    wz, agents = world
    aid, _, targeted = wz.publish("desk-a", "school-a-d2",
                                  headline="院系预警")
    expected = wz.tree.receivers("school-a-d2")
    assert expected == ["adv-a21", "adv-a22", "liaison-a2"]
    assert targeted == 3
    for cn in expected:
        assert agents[cn].wait_shown(aid)["WUZHA_ISSUER"] == "desk-a"
    sentinel, _, _ = wz.publish("officer-li", "jn-police", headline="s")
    _settle(agents, sentinel)
    for cn, a in agents.items():
        assert a.shown_ids().count(aid) == (1 if cn in expected else 0), cn


def test_publish_is_stored_with_counters_per_node(wz):
    aid, seq, targeted = wz.publish("officer-li", "school-b")
    st = wz.stored_alert(aid)
    assert st, "no alert:%s" % aid
    assert st["target"] == "school-b"
    assert st["issuer"] == "officer-li"
    assert int(st["seq"]) == seq
    # The envelope is stored as signed: it still verifies against the CA.
    body = wp.verify_envelope(wz.redis.hget_raw("alert:" + aid, "env"),
                              wp.load_cert(wz.ca))
    assert (body["id"], body["issuer"], body["target"]) == \
        (aid, "officer-li", "school-b")
    assert aid in wz.redis.zrange("live")
    assert aid in wz.redis.zrange("node-alerts:school-b")
    assert wz.redis.xlen("alerts") == 1
    assert int(wz.redis.get("seq")) == seq
    # Nothing per node is written when it goes live: the counters start
    # with the first ack, and how many each node targeted is the tree of
    # the generation stored with the alert.
    assert int(st["targeted"]) == targeted == 7
    assert int(st["gen"]) == int(wz.redis.get("tree-gen"))
    assert not wz.redis.exists("rate:" + aid)
    doc = json.loads(wz.ctl("officer-li", "status", aid, "--json",
                            check=True).out)
    nodes = {n["node"]: n for n in doc["nodes"]}
    assert nodes["school-b"]["targeted"] == 7
    assert nodes["school-b-d1"]["targeted"] == 3
    assert nodes["school-b-d1-c2"]["targeted"] == 1


# --- refusals -------------------------------------------------------------

def _officer(wz):
    return (wp.load_key(wz.key("officer-li")),
            wp.load_cert(wz.crt("officer-li")))


def _refused(wz, cn, env_bytes, code, alert_id=None):
    """
    PUBLISH env_bytes as cn over a fresh session: the answer must be
    ERROR code (with text, and the alert id as ref when it is known), and
    Redis must not change.  Then a valid publish still goes through.
    """
    before = wz.store_snapshot()
    fs, _ = wz.session(cn, role=wp.ROLE_CONSOLE)
    try:
        fs.send_raw(wp.publish(env_bytes))
        t, msg = fs.recv(10)
        assert t == wp.ERROR, (wp.TYPE_NAMES.get(t), msg)
        assert msg["code"] == code, msg
        assert msg.get("text"), "ERROR %d without text" % code
        if alert_id and msg.get("ref"):
            assert msg["ref"] == alert_id
    finally:
        fs.close()
    after = wz.store_snapshot()
    assert after == before, "a refused publish changed Redis"
    if alert_id:
        assert not wz.redis.exists("alert:" + alert_id)
    # The daemon goes on serving: a good publish is accepted.
    good, _, n = wz.publish("officer-li", "school-a-d1-c1", headline="ok")
    assert n == 1 and wz.redis.exists("alert:" + good)
    return msg


def test_tampered_signature_is_refused_with_300(wz):
    key, cert = _officer(wz)
    aid = wz.new_id("tamper-sig")
    body = wp.alert_body(aid, "officer-li", "school-a")
    sig = bytearray(wp.sign(key, body))
    sig[10] ^= 0x01
    _refused(wz, "officer-li", wp.envelope(body, wp.der(cert), bytes(sig)),
             wp.E_SIGNATURE, aid)


def test_body_changed_after_signing_is_refused_with_300(wz):
    key, cert = _officer(wz)
    aid = wz.new_id("tamper-body")
    body = wp.alert_body(aid, "officer-li", "school-a", headline="真的")
    sig = wp.sign(key, body)
    forged = wp.alert_body(aid, "officer-li", "school-a", headline="假的",
                           issued_at=wp.decode_alert(body)["issued_at"],
                           expires_at=wp.decode_alert(body)["expires_at"])
    _refused(wz, "officer-li", wp.envelope(forged, wp.der(cert), sig),
             wp.E_SIGNATURE, aid)


def test_body_signed_by_key_the_ca_never_certified_is_refused_with_301(wz):
    # A self-made certificate naming officer-li, and its own key.
    key = wp.new_key()
    _, cert = wp.issue_cert(key, None, "officer-li", key=key)
    aid = wz.new_id("uncertified")
    body = wp.alert_body(aid, "officer-li", "school-a")
    _refused(wz, "officer-li", wp.signed_envelope(body, key, cert),
             wp.E_CERT, aid)


def test_cert_from_another_ca_in_envelope_is_refused_with_301(wz):
    ca_key, ca = wp.make_ca("evil-ca")
    key, cert = wp.issue_cert(ca_key, ca, "officer-li")
    aid = wz.new_id("foreign-ca")
    body = wp.alert_body(aid, "officer-li", "school-a")
    _refused(wz, "officer-li", wp.signed_envelope(body, key, cert),
             wp.E_CERT, aid)


def test_real_cert_with_wrong_key_is_refused_with_300(wz):
    # officer-li's genuine certificate, but the body signed by another key.
    _, cert = _officer(wz)
    aid = wz.new_id("wrong-key")
    body = wp.alert_body(aid, "officer-li", "school-a")
    _refused(wz, "officer-li", wp.signed_envelope(body, wp.new_key(), cert),
             wp.E_SIGNATURE, aid)


def test_envelope_cert_cn_not_the_body_issuer_is_refused_with_302(wz):
    # desk-a signs a body that claims officer-li as issuer.
    key, cert = wp.load_key(wz.key("desk-a")), wp.load_cert(wz.crt("desk-a"))
    aid = wz.new_id("cn-mismatch")
    body = wp.alert_body(aid, "officer-li", "school-a")
    _refused(wz, "desk-a", wp.signed_envelope(body, key, cert),
             wp.E_ISSUER, aid)


def test_envelope_of_another_principal_is_refused_with_302(wz):
    # A valid envelope of desk-a, published over officer-li's session.
    key, cert = wp.load_key(wz.key("desk-a")), wp.load_cert(wz.crt("desk-a"))
    aid = wz.new_id("not-sender")
    body = wp.alert_body(aid, "desk-a", "school-a")
    _refused(wz, "officer-li", wp.signed_envelope(body, key, cert),
             wp.E_ISSUER, aid)


@pytest.mark.parametrize("target", ["jn-police", "school-b", "school-b-d1-c1"])
def test_desk_publishing_outside_its_subtree_is_refused_with_303(wz, target):
    aid = wz.new_id("above")
    r = wz.publish("desk-a", target, alert_id=aid, expect_ok=False)
    assert r.rc == 1, r
    assert r.error() and r.error()[:2] == ("target-not-allowed", 303), r
    assert not wz.redis.exists("alert:" + aid)
    # The same over the wire, by hand.
    key, cert = wp.load_key(wz.key("desk-a")), wp.load_cert(wz.crt("desk-a"))
    aid = wz.new_id("above-raw")
    body = wp.alert_body(aid, "desk-a", target)
    _refused(wz, "desk-a", wp.signed_envelope(body, key, cert),
             wp.E_TARGET, aid)


def _publish_raw(wz, cn, env_bytes):
    """PUBLISH env_bytes as cn over a fresh session; the answer (t, msg)."""
    fs, _ = wz.session(cn, role=wp.ROLE_CONSOLE)
    try:
        fs.send_raw(wp.publish(env_bytes))
        return fs.recv(10)
    finally:
        fs.close()


def test_same_envelope_again_gets_the_first_published(world):
    """
    A PUBLISH of the very bytes already accepted is a retry: it gets the
    first PUBLISHED back (same seq, same targeted), nothing is stored or
    sent again.  Other bytes under the same id are refused with 307.
    """
    wz, agents = world
    key, cert = _officer(wz)
    aid = wz.new_id("replay")
    env = wp.signed_envelope(wp.alert_body(aid, "officer-li", "school-a"),
                             key, cert)
    t, first = _publish_raw(wz, "officer-li", env)
    assert t == wp.PUBLISHED, (wp.TYPE_NAMES.get(t), first)
    assert first["id"] == aid and first["targeted"] == 7 and first["seq"] > 0
    agents["adv-a11"].wait_shown(aid)
    before = wz.store_snapshot()
    for _ in range(2):
        t, again = _publish_raw(wz, "officer-li", env)
        assert t == wp.PUBLISHED, (wp.TYPE_NAMES.get(t), again)
        assert (again["id"], again["seq"], again["targeted"]) == \
            (first["id"], first["seq"], first["targeted"])
    assert wz.store_snapshot() == before, "a retry changed Redis"
    # A fresh body reusing the id is another alert: refused.
    env2 = wp.signed_envelope(wp.alert_body(aid, "officer-li", "school-b"),
                              key, cert)
    msg = _refused(wz, "officer-li", env2, wp.E_DUPLICATE)
    assert msg["ref"] == aid and "another envelope" in msg["text"], msg
    assert wz.stored_alert(aid)["target"] == "school-a"
    r = wz.publish("officer-li", "school-a", alert_id=aid, expect_ok=False)
    assert r.rc == 1 and r.error()[:2] == ("duplicate-id", 307), r
    # Shown once, though published three times.
    sentinel, _, _ = wz.publish("officer-li", "school-a", headline="last")
    agents["adv-a11"].wait_shown(sentinel)
    assert agents["adv-a11"].shown_ids().count(aid) == 1


def test_same_envelope_of_a_held_alert_gets_the_first_published(wz):
    key, cert = _officer(wz)
    aid = wz.new_id("held-replay")
    at = int(time.time() * 1000) + 3600 * 1000
    env = wp.signed_envelope(wp.alert_body(aid, "officer-li", "school-a",
                                           publish_at=at), key, cert)
    t, first = _publish_raw(wz, "officer-li", env)
    assert t == wp.PUBLISHED and first["publish_at"] == at, first
    t, again = _publish_raw(wz, "officer-li", env)
    assert t == wp.PUBLISHED, (wp.TYPE_NAMES.get(t), again)
    assert (again["seq"], again["targeted"], again["publish_at"]) == \
        (0, first["targeted"], at)
    assert wz.redis.zcard("schedule") == 1


def test_retry_after_a_lost_store_reply_gets_the_first_published(private_env):
    """
    Redis stops while a PUBLISH waits: wuzhad gives up after
    command_timeout (501), but the script is in Redis's input and runs
    when Redis goes on, so the alert is stored though nobody was told.
    The same bytes again must get PUBLISHED with the seq that store took
    (not 307), and the agents below, connected all along, get it once.
    """
    env = private_env
    env.setup(redis={"command_timeout": "1s"})
    agent = env.start_agent("adv-a11")
    ready, _, _ = env.publish("officer-li", "school-a", headline="ready")
    agent.wait_shown(ready)
    key, cert = _officer(env)
    aid = env.new_id("lost-reply")
    body = wp.signed_envelope(wp.alert_body(aid, "officer-li", "school-a"),
                              key, cert)
    fs, _ = env.session("officer-li", role=wp.ROLE_CONSOLE)
    try:
        os.kill(env.redis_proc.pid, signal.SIGSTOP)
        try:
            fs.send_raw(wp.publish(body))
            t, msg = fs.recv(10)
        finally:
            os.kill(env.redis_proc.pid, signal.SIGCONT)
    finally:
        fs.close()
    assert t == wp.ERROR and msg["code"] == 501, (wp.TYPE_NAMES.get(t), msg)
    harness.wait_for(lambda: env.redis.hget_raw("alert:" + aid, "seq"), 10,
                     "the first store to run once Redis went on")
    seq = int(env.stored_alert(aid)["seq"])
    # Cut wuzhad's link to Redis: once it is back, wuzhad finds the alert
    # live there, unknown to it, and pushes it to the agents connected all
    # along (alerts_catch_up), before any retry.
    mark = len(env.daemon.log())
    env.redis.cmd("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    env.daemon.wait_log(r"alert %s seq %d: live in Redis but not known "
                        r"here \(.*its store's reply was lost\): 1 pushed now"
                        % (aid, seq), timeout=20, start=mark)
    agent.wait_shown(aid)
    # The retry, as a console would: the first PUBLISHED, nothing again.
    deadline = time.monotonic() + 15
    while True:
        t, msg = _publish_raw(env, "officer-li", body)
        if not (t == wp.ERROR and msg["code"] == 501) or \
                time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert t == wp.PUBLISHED, (wp.TYPE_NAMES.get(t), msg)
    assert (msg["id"], msg["seq"], msg["targeted"]) == (aid, seq, 7)
    agent.wait_shown(aid)
    t, msg = _publish_raw(env, "officer-li", body)
    assert t == wp.PUBLISHED and msg["seq"] == seq, msg
    last, _, _ = env.publish("officer-li", "school-a", headline="last")
    agent.wait_shown(last)
    assert agent.shown_ids().count(aid) == 1
    assert env.daemon.wait_log(r"alert %s: PUBLISH again from officer-li"
                               % aid, timeout=5)


def test_unknown_target_is_refused_with_304(wz):
    key, cert = _officer(wz)
    aid = wz.new_id("nowhere")
    body = wp.alert_body(aid, "officer-li", "no-such-school")
    _refused(wz, "officer-li", wp.signed_envelope(body, key, cert),
             wp.E_NODE, aid)
    r = wz.publish("officer-li", "no-such-school", expect_ok=False)
    assert r.rc == 1 and r.error()[:2] == ("unknown-node", 304), r


def test_publish_by_receive_only_principal_is_refused_with_201(wz):
    key = wp.load_key(wz.key("adv-a11"))
    cert = wp.load_cert(wz.crt("adv-a11"))
    aid = wz.new_id("no-right")
    body = wp.alert_body(aid, "adv-a11", "school-a-d1-c1")
    _refused(wz, "adv-a11", wp.signed_envelope(body, key, cert),
             wp.E_FORBIDDEN, aid)


def test_issued_at_outside_skew_window_is_refused_with_305(wz):
    key, cert = _officer(wz)
    for delta in (-3600_000, 3600_000):
        aid = wz.new_id("skew")
        t = wp.now_ms() + delta
        body = wp.alert_body(aid, "officer-li", "school-a", issued_at=t,
                             expires_at=t + 7200_000)
        _refused(wz, "officer-li", wp.signed_envelope(body, key, cert),
                 wp.E_SKEW, aid)


def test_refusals_do_not_disturb_connected_agents(world):
    wz, agents = world
    key, cert = _officer(wz)
    bad = wp.alert_body(wz.new_id("bad"), "officer-li", "school-a")
    fs, _ = wz.session("officer-li", role=wp.ROLE_CONSOLE)
    try:
        fs.send_raw(wp.publish(wp.envelope(bad, wp.der(cert),
                                           b"\0" * wp.SIG_LEN)))
        t, msg = fs.recv(10)
        assert t == wp.ERROR and msg["code"] == wp.E_SIGNATURE, msg
    finally:
        fs.close()
    aid, _, _ = wz.publish("officer-li", "jn-police")
    for a in agents.values():
        a.wait_shown(aid)
    time.sleep(0.3)
    for a in agents.values():
        assert a.shown_ids() == [aid], (a.cn, a.shown_ids())


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
