# SPDX-License-Identifier: ISC
"""
05-forged: a rogue daemon, holding the real daemon certificate (as a
compromised server would), pushes forged alerts to a real wuzha-agent.  The
agent must check chain and signature itself: each forgery is refused with
its reason logged, the hook never runs, and nothing forged is acknowledged
as delivered.  A genuine alert sent after the forgeries proves the agent
read them all, and that it still works.
"""

import re
import time

import pytest

import harness
import wuzha_proto as wp


@pytest.fixture
def rogue(env):
    """PKI of the demo tree, no wuzhad, a rogue daemon in its place."""
    env.set_tree(harness.demo_tree())
    env.make_pki(["officer-li", "desk-a", "adv-a11"])
    r = wp.RogueDaemon(env.ca, env.crt("wuzhad"), env.key("wuzhad"),
                       node="school-a-d1-c1").start()
    env.port = r.port
    try:
        yield env, r
    finally:
        r.stop()


def _officer(env):
    return (wp.load_key(env.key("officer-li")),
            wp.load_cert(env.crt("officer-li")))


def _forge(env, kind, aid):
    """A forged envelope of the given kind, its alert id aid."""
    key, cert = _officer(env)
    body = wp.alert_body(aid, "officer-li", "school-a",
                         headline="forged " + kind)
    if kind == "bad-signature":
        return (wp.envelope(body, wp.der(cert), bytes(wp.SIG_LEN)),
                "bad-signature")
    if kind == "flipped-signature-bit":
        sig = bytearray(wp.sign(key, body))
        sig[0] ^= 0x80
        return wp.envelope(body, wp.der(cert), bytes(sig)), "bad-signature"
    if kind == "tampered-body":
        sig = wp.sign(key, body)
        b = wp.decode_alert(body)
        forged = wp.alert_body(aid, "officer-li", "school-a",
                               headline="转账到安全账户",
                               issued_at=b["issued_at"],
                               expires_at=b["expires_at"])
        return wp.envelope(forged, wp.der(cert), sig), "bad-signature"
    if kind == "wrong-key":
        return wp.signed_envelope(body, wp.new_key(), cert), "bad-signature"
    if kind == "uncertified-key":
        k = wp.new_key()
        _, selfcert = wp.issue_cert(k, None, "officer-li", key=k)
        return wp.signed_envelope(body, k, selfcert), "bad-certificate"
    if kind == "wrong-ca":
        ca_key, ca = wp.make_ca("wuzha-ca")      # same name, other key
        k, c = wp.issue_cert(ca_key, ca, "officer-li")
        return wp.signed_envelope(body, k, c), "bad-certificate"
    if kind == "issuer-mismatch":
        k, c = wp.load_key(env.key("desk-a")), wp.load_cert(env.crt("desk-a"))
        return wp.signed_envelope(body, k, c), "issuer-mismatch"
    if kind == "no-signature":
        return wp.fields([(1, body), (2, wp.der(cert))]), None
    if kind == "garbage-cert":
        return wp.envelope(body, b"\x30\x03\x02\x01\x00",
                           wp.sign(key, body)), "bad-certificate"
    raise ValueError(kind)


FORGERIES = ["bad-signature", "flipped-signature-bit", "tampered-body",
             "wrong-key", "uncertified-key", "wrong-ca", "issuer-mismatch",
             "no-signature", "garbage-cert"]


def _genuine(env, aid):
    key, cert = _officer(env)
    return wp.signed_envelope(
        wp.alert_body(aid, "officer-li", "school-a", headline="genuine"),
        key, cert)


def _refusal_rx(aid, name=None):
    """
    The agent's refusal line.  name None: any error name, and the id may
    be "?" (an envelope that does not even decode has no trusted id).
    """
    ident = re.escape(aid) if name else r"(%s|\?)" % re.escape(aid)
    return (r"wuzha-agent: refused alert %s seq \d+: %s: \S" %
            (ident, re.escape(name) if name else r"[a-z0-9-]+"))


@pytest.mark.parametrize("kind", FORGERIES)
def test_forged_alert_is_refused_logged_and_never_shown(rogue, kind):
    env, r = rogue
    forged_id = env.new_id("forged")
    env_bytes, reason = _forge(env, kind, forged_id)
    good_id = env.new_id("genuine")
    r.alerts = [env_bytes, _genuine(env, good_id)]
    a = env.start_agent("adv-a11")
    a.wait_shown(good_id, timeout=20)
    a.proc.wait_log(_refusal_rx(forged_id, reason), timeout=5)
    assert a.shown_ids() == [good_id]
    harness.wait_for(lambda: any(m["id"] == good_id for m in r.acks()), 10,
                     "the genuine alert to be acknowledged")
    assert not any(m["id"] == forged_id for m in r.acks()), r.acks()
    assert a.proc.alive()


def test_all_forgeries_in_one_session_then_genuine(rogue):
    env, r = rogue
    forged = []
    for kind in FORGERIES:
        aid = env.new_id(kind)
        forged.append((aid, _forge(env, kind, aid)[1]))
        r.alerts.append(_forge(env, kind, aid)[0])
    good_id = env.new_id("genuine")
    r.alerts.append(_genuine(env, good_id))
    a = env.start_agent("adv-a11")
    a.wait_shown(good_id, timeout=20)
    for aid, reason in forged:
        a.proc.wait_log(_refusal_rx(aid, reason), timeout=5)
    assert a.shown_ids() == [good_id]


def test_expired_alert_is_never_shown(rogue):
    env, r = rogue
    key, cert = _officer(env)
    aid = env.new_id("expired")
    t = wp.now_ms() - 7200_000
    r.alerts = [wp.signed_envelope(
        wp.alert_body(aid, "officer-li", "school-a", issued_at=t,
                      expires_at=t + 3600_000), key, cert)]
    good_id = env.new_id("genuine")
    r.alerts.append(_genuine(env, good_id))
    a = env.start_agent("adv-a11")
    a.wait_shown(good_id, timeout=20)
    a.proc.wait_log(r"wuzha-agent: (refused|dropped) alert %s seq \d+: \S"
                    % re.escape(aid), timeout=5)
    assert a.shown_ids() == [good_id]
    assert not any(m["id"] == aid for m in r.acks())


def test_same_alert_served_twice_is_shown_once(rogue):
    env, r = rogue
    aid = env.new_id("twice")
    env_bytes = _genuine(env, aid)
    r.alerts = [env_bytes, env_bytes]
    a = env.start_agent("adv-a11")
    a.wait_shown(aid, timeout=20)
    harness.wait_for(lambda: any(m["id"] == aid for m in r.acks()), 10,
                     "an ack")
    time.sleep(1.0)
    assert a.shown_ids() == [aid]
    # A new session after a restart serves it again: still shown once.
    a.stop()
    later = env.new_id("later")
    r.alerts = [env_bytes, _genuine(env, later)]
    a = env.start_agent("adv-a11", conf=a.conf)
    a.wait_shown(later, timeout=20)
    assert a.shown_ids() == [aid, later]


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
