# SPDX-License-Identifier: ISC
"""
47-receipts: every ack is a receipt signed by the agent's own key.  Real
wuzha-agents acknowledge an alert (delivered, then shown by their hook),
the advisors confirm read and relayed with wuzhactl ack (signed too), and
wuzhactl receipts lists them all and --verify checks each against the CA.
A raw client then tries what a forger would: a receipt signed with
another principal's key, one with a byte changed, one over another
alert's envelope, an old one replayed, and an ack without any; each is
refused with its code, the log names who and why, and nothing is stored.
Last, a receipt altered in Redis is named by --verify.
"""

import json
import re

import harness
import wuzha_proto as wp

TARGET = "school-a-d1"
RECEIVERS = ("liaison-a1", "adv-a11", "adv-a12")
RAW_TARGET = "school-a-d2"      # the raw client's alert: nobody else acks it
RAW_CN = "adv-a21"


def _receipts(env, cn, aid, *args):
    return env.ctl(cn, "receipts", aid, *args)


def _stored(env, aid):
    """{"cn|state": stored receipt bytes} of rcpt:{id}."""
    r = env.redis.cmd("HGETALL", env.redis.k("rcpt:" + aid)) or []
    return {r[i].decode(): r[i + 1] for i in range(0, len(r), 2)}


def _agents_acked(env, aid):
    agents = [env.start_agent(cn) for cn in RECEIVERS]
    for a in agents:
        a.wait_shown(aid)
    # The hook ran: shown follows delivered, both signed by the agent.
    harness.wait_for(lambda: len(_stored(env, aid)) == 2 * len(RECEIVERS),
                     15, "delivered and shown receipts of every agent")
    return agents


def test_receipts_of_real_agents_are_listed_and_verified(wz):
    aid, _, targeted = wz.publish("officer-li", TARGET)
    assert targeted == len(RECEIVERS)
    _agents_acked(wz, aid)
    assert wz.ctl("adv-a11", "ack", aid, "read").rc == 0
    r = wz.ctl("adv-a12", "ack", aid, "relayed", "--reach", "30")
    assert r.rc == 0, r
    stored = _stored(wz, aid)
    want = {"%s|%s" % (cn, st) for cn in RECEIVERS
            for st in ("delivered", "shown")}
    want |= {"adv-a11|read", "adv-a12|relayed"}
    assert set(stored) == want, sorted(stored)
    # Each certificate once, under its fingerprint.
    certs = wz.redis.cmd("HKEYS", wz.redis.k("certs"))
    assert len(certs) == len(RECEIVERS), certs
    for v in stored.values():
        rc = wp.decode_table(wp.T_STORED_RECEIPT, v)
        assert rc["cert_fp"].hex().encode() in certs

    r = _receipts(wz, "desk-a", aid, "--verify")
    assert r.rc == 0, r
    assert "8 receipts, 8 verified, 0 failed" in r.out, r
    assert re.search(r"^adv-a12\s+relayed\s+\S+ \S+ reach 30 verified$",
                     r.out, re.M), r
    assert re.search(r"^liaison-a1\s+delivered\s.*verified$", r.out,
                     re.M), r

    r = _receipts(wz, "desk-a", aid, "--json", "--verify")
    assert r.rc == 0, r
    j = json.loads(r.out)
    assert j["listed"] == 8 and j["verified"] == 8 and j["failed"] == 0
    got = {(x["cn"], x["state"]) for x in j["receipts"]}
    assert got == {tuple(k.split("|")) for k in want}
    assert all(x["verified"] for x in j["receipts"])
    relayed = [x for x in j["receipts"] if x["state"] == "relayed"][0]
    assert relayed["reach"] == 30

    # --node: the principals at or below it only.
    r = _receipts(wz, "desk-a", aid, "--node", "school-a-d1-c1", "--json")
    assert r.rc == 0, r
    assert {(x["cn"], x["state"]) for x in json.loads(r.out)["receipts"]} \
        == {("adv-a11", "delivered"), ("adv-a11", "shown"),
            ("adv-a11", "read")}
    # Receive alone: its own receipts, never a node's.
    r = _receipts(wz, "adv-a12", aid, "--json", "--verify")
    assert r.rc == 0, r
    assert {x["cn"] for x in json.loads(r.out)["receipts"]} == {"adv-a12"}
    r = _receipts(wz, "adv-a12", aid, "--node", "school-a-d1")
    assert r.rc == 1 and r.error()[:2] == ("forbidden", 201), r
    # Another school's desk sees none of it.
    r = _receipts(wz, "desk-b", aid)
    assert r.rc == 1 and r.error()[1] in (201, 304), r


def test_receipts_page_through_a_small_frame(env):
    """max_frame small: the receipts come over several pages, all of them."""
    env.setup(limits={"max_frame": 2048, "max_text": 1024},
              log_level="debug")
    aid, _, _ = env.publish("officer-li", TARGET)
    _agents_acked(env, aid)
    mark = len(env.daemon.log())
    r = _receipts(env, "desk-a", aid, "--verify")
    assert r.rc == 0, r
    assert "6 receipts, 6 verified, 0 failed" in r.out, r
    pages = re.findall(r"receipts %s for desk-a@\S+: (\d+) listed" % aid,
                       env.daemon.log()[mark:])
    assert len(pages) >= 2 and sum(map(int, pages)) == 6, pages


def _forge_world(env):
    """An alert to RAW_TARGET, a raw session of RAW_CN that has seen it."""
    other, _, _ = env.publish("officer-li", TARGET)
    aid, _, _ = env.publish("officer-li", RAW_TARGET)
    fs, _ = env.session(RAW_CN)
    fs.auto_sign = False
    t, m = fs.recv(10)
    while not (t == wp.ALERT and aid.encode() in m["envelope"]):
        t, m = fs.recv(10)
    return fs, aid, wp.sha256(m["envelope"]), \
        wp.sha256(env.stored_envelope(other))


def _refused(env, fs, aid, frame, code, why):
    """frame is refused with code for aid, and the log says why."""
    mark = len(env.daemon.log())
    fs.send_raw(frame)
    t, m = fs.recv(10)
    assert t == wp.ERROR and m["code"] == code and m.get("ref") == aid, \
        (t, m)
    env.daemon.wait_log(why, start=mark)
    return m


def test_forged_altered_foreign_replayed_and_unsigned_are_refused(wz):
    fs, aid, h, other_h = _forge_world(wz)
    try:
        certs0 = wz.redis.cmd("HLEN", wz.redis.k("certs"))
        key = wp.load_key(wz.key(RAW_CN))
        wrong = wp.load_key(wz.key("adv-a22"))
        # (a) signed with another principal's key, in our name.
        _refused(wz, fs, aid, wp.signed_ack(wrong, RAW_CN, aid,
                 wp.ACK_READ, h), 311,
                 r"adv-a21.*receipt of adv-a21: signature does not match")
        # ... and in its own name, on our session.
        _refused(wz, fs, aid, wp.signed_ack(wrong, "adv-a22", aid,
                 wp.ACK_READ, h), 311,
                 r"receipt names adv-a22, the session is adv-a21's")
        # (b) one byte of a good receipt changed (its time).
        body = wp.receipt_body(aid, h, wp.ACK_READ, RAW_CN)
        sig = wp.sign_receipt(key, body)
        bad = bytearray(body)
        bad[-11] ^= 0x01            # the last byte of tag 6 (at): 1 ms
        _refused(wz, fs, aid, wp.ack(aid, wp.ACK_READ, receipt=bytes(bad),
                 sig=sig), 311, r"receipt of adv-a21: signature")
        # ... a state other than the ACK's.
        _refused(wz, fs, aid, wp.ack(aid, wp.ACK_RELAYED, reach=3,
                 receipt=body, sig=sig), 311,
                 r"receipt of adv-a21 says \S+ read, the ack \S+ relayed")
        # (c) over another alert's envelope.
        _refused(wz, fs, aid, wp.signed_ack(key, RAW_CN, aid, wp.ACK_READ,
                 other_h), 311, r"receipt of adv-a21 is for another "
                 r"envelope")
        # (d) an old receipt replayed, and one from the future.
        old = wp.now_ms() - 2 * 300 * 1000
        _refused(wz, fs, aid, wp.signed_ack(key, RAW_CN, aid, wp.ACK_READ,
                 h, at=old), 312, r"receipt of adv-a21 made at %d" % old)
        _refused(wz, fs, aid, wp.signed_ack(key, RAW_CN, aid, wp.ACK_READ,
                 h, at=wp.now_ms() + 600 * 1000), 312,
                 r"receipt of adv-a21 made at \d+, \d+ s from the server")
        # (e) no receipt at all.
        _refused(wz, fs, aid, wp.ack_unsigned(aid, wp.ACK_READ), 313,
                 r"unsigned ack from adv-a21: receipts are required")
        # Nothing of any of them was stored.
        assert _stored(wz, aid) == {}
        assert RAW_CN not in wz.acks(aid)
        assert wz.rate(aid) == {} or all(
            not any(v for k, v in c.items() if k != "targeted")
            for c in wz.rate(aid).values()), wz.rate(aid)
        assert wz.redis.cmd("HLEN", wz.redis.k("certs")) == certs0
        # The honest one goes through, stored as sent.
        fs.send_raw(wp.ack(aid, wp.ACK_READ, receipt=body, sig=sig))
        t, m = fs.recv(10)
        assert t == wp.ACK_OK and m["state"] == wp.ACK_READ, (t, m)
        st = _stored(wz, aid)
        assert list(st) == [RAW_CN + "|read"]
        rec = wp.decode_table(wp.T_STORED_RECEIPT, st[RAW_CN + "|read"])
        assert rec["body"] == body and rec["sig"] == sig
        assert rec["cert_fp"] == wp.sha256(
            wp.der(wp.load_cert(wz.crt(RAW_CN))))
        # Sent again, the same state keeps its first receipt.
        fs.send_raw(wp.signed_ack(key, RAW_CN, aid, wp.ACK_READ, h))
        t, m = fs.recv(10)
        assert t == wp.ACK_OK, (t, m)
        assert _stored(wz, aid)[RAW_CN + "|read"] == st[RAW_CN + "|read"]
    finally:
        fs.close()


def test_verify_names_a_receipt_altered_in_the_store(wz):
    aid, _, _ = wz.publish("officer-li", TARGET)
    _agents_acked(wz, aid)
    assert wz.ctl("adv-a11", "ack", aid, "read").rc == 0
    r = _receipts(wz, "desk-a", aid, "--verify")
    assert r.rc == 0 and "7 receipts, 7 verified, 0 failed" in r.out, r
    # A tampering store: one byte of adv-a11's read receipt (its time).
    field = "adv-a11|read"
    v = bytearray(_stored(wz, aid)[field])
    rec = wp.decode_table(wp.T_STORED_RECEIPT, bytes(v))
    at = 3 + len(rec["body"]) - 11        # the body's at, by 1 ms
    v[at] ^= 0x01
    wz.redis.cmd("HSET", wz.redis.k("rcpt:" + aid), field, bytes(v))
    r = _receipts(wz, "desk-a", aid, "--verify")
    assert r.rc == 1, r
    assert "7 receipts, 6 verified, 1 failed" in r.out, r
    assert "receipt adv-a11|read of %s: FAILED: signature does not match " \
        "the receipt" % aid in r.err, r
    assert re.search(r"^adv-a11\s+read\s.*FAILED$", r.out, re.M), r
    # Without --verify the listing alone does not check signatures.
    r = _receipts(wz, "desk-a", aid)
    assert r.rc == 0 and "7 receipts" in r.out, r


def test_receipts_optional_takes_an_unsigned_ack(env):
    """receipts: optional: an old agent's unsigned ack is stored, bare."""
    env.setup(top={"receipts": "optional"})
    aid, _, _ = env.publish("officer-li", RAW_TARGET)
    fs, _ = env.session(RAW_CN)
    try:
        fs.send_raw(wp.ack_unsigned(aid, wp.ACK_READ))
        t, m = fs.recv(10)
        while t == wp.ALERT:
            t, m = fs.recv(10)
        assert t == wp.ACK_OK and m["state"] == wp.ACK_READ, (t, m)
        assert env.acks(aid)[RAW_CN][0] == wp.ACK_READ
        assert _stored(env, aid) == {}
        # A bad receipt is still refused.
        key = wp.load_key(env.key("adv-a22"))
        fs.send_raw(wp.signed_ack(key, RAW_CN, aid, wp.ACK_RELAYED,
                                  wp.sha256(env.stored_envelope(aid)),
                                  reach=1))
        t, m = fs.recv(10)
        assert t == wp.ERROR and m["code"] == 311, (t, m)
    finally:
        fs.close()
