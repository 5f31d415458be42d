# SPDX-License-Identifier: ISC
"""
05-forged: a rogue daemon, holding the real daemon certificate (as a
compromised server would), pushes forged alerts to a real wuzha-agent.  The
agent must check chain and signature itself: each forgery is refused with
its reason logged, the hook never runs, and nothing forged is acknowledged
as delivered.  A genuine alert sent after the forgeries proves the agent
read them all, and that it still works.

Signed is not enough: the signer's certificate must be a principal's
(clientAuth, not serverAuth) that the CA made an issuer (a wuzha:issue:NODE
URI), and the agent checks against the path in its own certificate
(wuzha:path:...) that the alert's target is above it and that the
signer's node covers the target, without trusting the daemon's tree.
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
    env.make_pki(["officer-li", "desk-a", "desk-b", "adv-a11", "adv-a12"])
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


def _ca(env):
    return wp.load_key(env.ca_key), wp.load_cert(env.ca)


def _scoped(env, kind, aid):
    """
    A well-signed envelope whose signer may not reach adv-a11 (at
    jn-police/school-a/school-a-d1/school-a-d1-c1), and the reason the
    agent must give.
    """
    def signed_by(cn, target, key, cert):
        return wp.signed_envelope(wp.alert_body(
            aid, cn, target, headline="越权 " + kind), key, cert)

    if kind == "daemon-server-key":
        # What a compromised daemon holds: its own CA-signed server key.
        return signed_by("wuzhad", "school-a", wp.load_key(env.key("wuzhad")),
                         wp.load_cert(env.crt("wuzhad"))), "not-an-issuer"
    if kind == "server-and-client-usage":
        ca_key, ca = _ca(env)
        k, c = wp.issue_cert(ca_key, ca, "rogue-svc", path="jn-police",
                             issue="jn-police", usages=[
                                 wp.ExtendedKeyUsageOID.SERVER_AUTH,
                                 wp.ExtendedKeyUsageOID.CLIENT_AUTH])
        return signed_by("rogue-svc", "school-a", k, c), "not-an-issuer"
    if kind == "receive-only-principal":
        # adv-a12's own key: a CA-signed principal without the right.
        return signed_by("adv-a12", "school-a-d1", wp.load_key(
            env.key("adv-a12")), wp.load_cert(env.crt("adv-a12"))), \
            "not-an-issuer"
    if kind == "other-school-desk":
        # desk-b may issue to school-b only; school-b is not above us.
        return signed_by("desk-b", "school-b", wp.load_key(env.key("desk-b")),
                         wp.load_cert(env.crt("desk-b"))), \
            "target-not-allowed"
    if kind == "other-school-desk-our-target":
        # desk-b signing for school-a: its node does not cover school-a.
        return signed_by("desk-b", "school-a", wp.load_key(env.key("desk-b")),
                         wp.load_cert(env.crt("desk-b"))), \
            "target-not-allowed"
    if kind == "issuer-not-covering-agent":
        # A liaison the CA let issue to its department, school-a-d2: the
        # alert targets that department, not ours.
        ca_key, ca = _ca(env)
        k, c = wp.issue_cert(ca_key, ca, "liaison-a2",
                             path="jn-police/school-a/school-a-d2",
                             issue="school-a-d2")
        return signed_by("liaison-a2", "school-a-d2", k, c), \
            "target-not-allowed"
    if kind == "issuer-below-target":
        # The same liaison signing for the whole school, above its node.
        ca_key, ca = _ca(env)
        k, c = wp.issue_cert(ca_key, ca, "liaison-a2",
                             path="jn-police/school-a/school-a-d2",
                             issue="school-a-d2")
        return signed_by("liaison-a2", "school-a", k, c), \
            "target-not-allowed"
    raise ValueError(kind)


SCOPED = ["daemon-server-key", "server-and-client-usage",
          "receive-only-principal", "other-school-desk",
          "other-school-desk-our-target", "issuer-not-covering-agent",
          "issuer-below-target"]


@pytest.mark.parametrize("kind", SCOPED)
def test_signer_without_the_right_to_reach_us_is_refused(rogue, kind):
    env, r = rogue
    bad_id = env.new_id("scoped")
    _refused_then_genuine(env, r, bad_id, *_scoped(env, kind, bad_id))


def test_the_desk_of_our_own_school_is_accepted(rogue):
    # The same check lets through who may reach us: our school's desk.
    env, r = rogue
    aid = env.new_id("desk")
    r.alerts = [wp.signed_envelope(
        wp.alert_body(aid, "desk-a", "school-a-d1", headline="本校预警"),
        wp.load_key(env.key("desk-a")), wp.load_cert(env.crt("desk-a")))]
    a = env.start_agent("adv-a11")
    a.wait_shown(aid, timeout=20)
    assert a.shown_ids() == [aid]


def test_agent_without_a_path_in_its_certificate_refuses_to_start(rogue):
    env, r = rogue
    ca_key, ca = _ca(env)
    k, c = wp.issue_cert(ca_key, ca, "adv-a11")
    crt, _ = wp.write_pem(env.pki, "adv-a11", k, c)
    a = env.start_agent("adv-a11")
    harness.wait_for(lambda: not a.proc.alive(), 10, "the agent to exit")
    assert a.proc.proc.returncode != 0
    a.proc.wait_log(r"the certificate of adv-a11 has no wuzha:path: URI, so "
                    r"alerts cannot be checked against its place in the "
                    r"tree; issue it again with wuzha-ca tree", timeout=5)
    assert r.sessions == 0 and a.shown_ids() == []


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


def _refused_then_genuine(env, r, bad_id, env_bytes, reason):
    """
    The rogue pushes env_bytes, then a genuine alert: the agent refuses
    the first with reason logged, shows and acknowledges only the second.
    """
    good_id = env.new_id("genuine")
    r.alerts = [env_bytes, _genuine(env, good_id)]
    a = env.start_agent("adv-a11")
    a.wait_shown(good_id, timeout=20)
    a.proc.wait_log(_refusal_rx(bad_id, reason), timeout=5)
    assert a.shown_ids() == [good_id]
    harness.wait_for(lambda: any(m["id"] == good_id for m in r.acks()), 10,
                     "the genuine alert to be acknowledged")
    assert not any(m["id"] == bad_id for m in r.acks()), r.acks()
    assert a.proc.alive()


@pytest.mark.parametrize("kind", FORGERIES)
def test_forged_alert_is_refused_logged_and_never_shown(rogue, kind):
    env, r = rogue
    forged_id = env.new_id("forged")
    _refused_then_genuine(env, r, forged_id, *_forge(env, kind, forged_id))


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
    # Shown: the hook has returned, so the stop below kills no hook.
    harness.wait_for(lambda: any(m["id"] == aid and
                                 m["state"] == wp.ACK_SHOWN
                                 for m in r.acks()), 10, "the shown ack")
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
