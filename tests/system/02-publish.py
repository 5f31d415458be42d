# SPDX-License-Identifier: ISC
"""
02-publish: who an alert reaches, and every way the daemon must refuse a
PUBLISH (with the documented code, nothing stored, others still served).
"""

import time

import pytest

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
    rate = wz.rate(aid)
    assert rate["school-b"]["targeted"] == targeted == 7
    assert rate["school-b-d1"]["targeted"] == 3
    assert rate["school-b-d1-c2"]["targeted"] == 1


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


def test_replayed_id_is_refused_with_307(wz):
    key, cert = _officer(wz)
    aid = wz.new_id("replay")
    env = wp.signed_envelope(wp.alert_body(aid, "officer-li", "school-a"),
                             key, cert)
    fs, _ = wz.session("officer-li", role=wp.ROLE_CONSOLE)
    try:
        fs.send_raw(wp.publish(env))
        first = fs.expect(wp.PUBLISHED)
        assert first["id"] == aid and first["targeted"] == 7
    finally:
        fs.close()
    # The very same bytes again, then a fresh body reusing the id.
    _refused(wz, "officer-li", env, wp.E_DUPLICATE)
    env2 = wp.signed_envelope(wp.alert_body(aid, "officer-li", "school-b"),
                              key, cert)
    _refused(wz, "officer-li", env2, wp.E_DUPLICATE)
    assert wz.stored_alert(aid)["target"] == "school-a"
    r = wz.publish("officer-li", "school-a", alert_id=aid, expect_ok=False)
    assert r.rc == 1 and r.error()[:2] == ("duplicate-id", 307), r


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
