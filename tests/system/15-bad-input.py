# SPDX-License-Identifier: ISC
"""
15-bad-input: every hostile input the daemon can be sent, against one
running wuzhad over real TLS.  Each case asserts three things:

  - the refusal: the TLS handshake fails (with the reason in the daemon's
    log), or an ERROR with the expected code arrives, and the connection
    is closed where going on would be unsafe;
  - nothing from it is stored: Redis under our prefix is byte for byte
    what it was before the case;
  - everyone else is still served: a bystander agent connected for the
    whole module still answers, and at the end gets a genuine alert.

Limits that need their own configuration (connections per address,
PUBLISH rate, frame and handshake deadlines, CRL reload, a bad config on
SIGHUP) are at the end, each with a daemon of its own.
"""

import os
import re
import shutil
import signal
import socket
import ssl
import struct
import time

import pytest

import harness
import wuzha_proto as wp

E = wp.E
DELIVERED, READ, RELAYED = 1, 2, 3

# Short deadlines, so that the slow-peer cases finish quickly.
TIMEOUTS = {"handshake": "2s", "frame": "1500ms", "heartbeat": "30s",
            "idle": "120s"}


class World:
    """One daemon, one published alert, a bystander, and helpers."""

    def __init__(self, env):
        self.env = env
        self.alert = None
        self.bystander = None

    # -- the two invariants --

    def check_unharmed(self, before):
        """
        Redis unchanged since `before`, the bystander still served.  The
        `seen` hash is left out: it notes when agents came and went, and
        the sessions that carry the bad input come and go; so is `probe`,
        the key wuzhad's health check writes every 500 ms, and so is the
        presence (the `daemons` heartbeat every 2 s, and who is on).
        """
        after = self.env.redis.dump()
        for d in (before, after):
            for k in list(d):
                if k in ("seen", "probe", "daemons") or \
                        k.startswith("on:") or k.startswith("oncount:"):
                    d.pop(k)
        assert after == before, "the store changed: %s" % sorted(
            k for k in set(after) | set(before)
            if after.get(k) != before.get(k))
        nonce = int(time.monotonic() * 1000) & 0xFFFFFFFF
        self.bystander.send_raw(wp.ping(nonce))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            t, msg = self.bystander.recv(timeout=10)
            if t == wp.PONG and msg.get("nonce") == nonce:
                break
        else:
            raise AssertionError("the bystander got no PONG")
        assert self.env.daemon.alive()

    # -- sessions --

    def session(self, cn, role=wp.ROLE_AGENT):
        fs, _ = self.env.session(cn, role=role)
        if role == wp.ROLE_AGENT:
            # A receiving agent first gets what is pending for it.
            try:
                while True:
                    t, _ = fs.recv(timeout=0.5)
                    assert t in (wp.ALERT,), t
            except TimeoutError:
                pass
        return fs

    def expect_error(self, fs, code, closed, ref=None, timeout=10):
        """The next message is ERROR code; then closed (or not)."""
        while True:
            t, msg = fs.recv(timeout=timeout)
            if t != wp.ALERT:
                break
        assert t == wp.ERROR, (wp.TYPE_NAMES.get(t, t), msg)
        assert msg["code"] == code, msg
        if ref is not None:
            assert msg.get("ref") == ref, msg
        if closed:
            gone, got = fs.wait_closed(timeout=10)
            assert gone, "still open after ERROR %d: %r" % (code, got)
        else:
            # Still usable: a PING is answered.
            fs.send_raw(wp.ping(7))
            t, m = fs.recv(timeout=10, skip_pings=False)
            while t == wp.PING:
                t, m = fs.recv(timeout=10, skip_pings=False)
            assert t == wp.PONG and m["nonce"] == 7, (t, m)
        return msg

    def log_mark(self):
        return len(self.env.daemon.log())

    def wait_log(self, pattern, start, timeout=10):
        return self.env.daemon.wait_log(pattern, timeout, start=start)

    # -- alerts --

    def officer(self):
        return (wp.load_key(self.env.key("officer-li")),
                wp.load_cert(self.env.crt("officer-li")))

    def body(self, aid=None, **kw):
        kw.setdefault("headline", "测试：不要相信冒充公检法的电话")
        return wp.alert_body(aid or self.env.new_id("bad"), "officer-li",
                             kw.pop("target", "school-a"), **kw)


@pytest.fixture(scope="module")
def world():
    env = harness.Env()
    errors = []
    w = World(env)
    try:
        env.setup(timeouts=TIMEOUTS, limits={"max_text": "4KiB"},
                  log_level="debug")
        # One genuine alert, read and relayed by adv-a11, for the ack and
        # reference cases.
        aid, _, _ = env.publish("officer-li", "school-a",
                                headline="真实预警：刷单返利都是诈骗")
        w.alert = aid
        fs = w.session("adv-a11")
        fs.send_raw(wp.ack(aid, RELAYED, reach=40))
        assert fs.expect(wp.ACK_OK)["state"] == RELAYED
        fs.close()
        w.bystander = w.session("adv-b11")
        yield w
        # Still serving: a genuine alert reaches the bystander.
        good, _, _ = env.publish("officer-li", "school-b",
                                 headline="真实预警：警惕两卡买卖")
        msg = w.bystander.expect(wp.ALERT, timeout=15)
        assert wp.decode_alert(wp.decode_envelope(msg["envelope"])["body"]
                               )["id"] == good
    finally:
        if w.bystander is not None:
            w.bystander.close()
        errors = env.teardown()
    assert not errors, "; ".join(errors)


# --- TLS ---------------------------------------------------------------------

def _ca(env):
    return wp.load_key(env.ca_key), wp.load_cert(env.ca)


def _cert_files(env, name, key, cert):
    d = os.path.join(env.dir, "bad-certs")
    os.makedirs(d, exist_ok=True)
    return wp.write_pem(d, name, key, cert)


def _tls_refused(env, crt, key, tls12=False):
    """Connect with crt/key; True if the daemon refused the handshake."""
    ctx = wp.client_context(env.ca, crt, key)
    if tls12:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    raw = socket.create_connection(("127.0.0.1", env.port), timeout=10)
    try:
        s = ctx.wrap_socket(raw, server_hostname="wuzhad")
    except (ssl.SSLError, ConnectionError):
        raw.close()
        return True
    s.settimeout(10)
    fs = wp.FrameSocket(s)
    try:
        # TLS 1.3: the client learns of a refused certificate on its
        # first read, after its handshake has "finished".
        fs.send_raw(wp.hello())
        t, msg = fs.recv(timeout=10)
        return False
    except (wp.Closed, ssl.SSLError, ConnectionError):
        return True
    finally:
        fs.close()


def _bad_cert(env, kind):
    ca_key, ca = _ca(env)
    if kind == "expired":
        k, c = wp.issue_cert(ca_key, ca, "adv-a12",
                             valid=(-3 * 86400, -86400))
        return _cert_files(env, kind, k, c), "certificate has expired"
    if kind == "not-yet-valid":
        k, c = wp.issue_cert(ca_key, ca, "adv-a12",
                             valid=(86400, 3 * 86400))
        return _cert_files(env, kind, k, c), "certificate is not yet valid"
    if kind == "wrong-ca":
        rk, rca = wp.make_ca("wuzha CA")
        k, c = wp.issue_cert(rk, rca, "adv-a12")
        return _cert_files(env, kind, k, c), \
            "(unable to get local issuer|certificate signature failure)"
    if kind == "self-signed":
        k = wp.new_key()
        _, c = wp.issue_cert(k, None, "adv-a12", key=k)
        return _cert_files(env, kind, k, c), "self.signed certificate"
    if kind == "no-certificate":
        return (None, None), "(peer did not return a certificate|no " \
            "certificate)"
    if kind == "server-cert-as-client":
        # The daemon's own certificate: from the CA, but not for clients.
        return (env.crt("wuzhad"), env.key("wuzhad")), \
            "unsuitable certificate purpose"
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["expired", "not-yet-valid", "wrong-ca",
                                  "self-signed", "no-certificate",
                                  "server-cert-as-client"])
def test_bad_client_certificate_is_refused_in_the_handshake(world, kind):
    env = world.env
    (crt, key), reason = _bad_cert(env, kind)
    before = env.redis.dump()
    mark = world.log_mark()
    assert _tls_refused(env, crt, key)
    world.wait_log(r"tls handshake failed: .*%s" % reason, mark)
    world.check_unharmed(before)


def test_tls_1_2_is_refused(world):
    env = world.env
    before = env.redis.dump()
    assert _tls_refused(env, env.crt("adv-a12"), env.key("adv-a12"),
                        tls12=True)
    world.check_unharmed(before)


def test_cert_whose_cn_is_not_a_principal_gets_200(world):
    env = world.env
    crt, key = env.client_cert("stranger")
    before = env.redis.dump()
    fs = env.connect(cert=crt, key=key)
    world.expect_error(fs, E["not-a-principal"], closed=True)
    world.check_unharmed(before)


def test_a_silent_tcp_peer_is_closed_after_the_handshake_time(world):
    env = world.env
    before = env.redis.dump()
    mark = world.log_mark()
    s = socket.create_connection(("127.0.0.1", env.port), timeout=10)
    try:
        s.sendall(b"\x16\x03\x01")      # the start of a ClientHello
        t0 = time.monotonic()
        s.settimeout(10)
        assert s.recv(100) == b""       # closed by the daemon
        took = time.monotonic() - t0
        assert 1.0 <= took <= 8.0, took
    finally:
        s.close()
    world.wait_log(r"no HELLO within 2000 ms", mark)
    world.check_unharmed(before)


def test_tls_done_but_no_hello_is_closed_with_111(world):
    env = world.env
    before = env.redis.dump()
    fs = env.connect("adv-a12")
    world.expect_error(fs, E["timeout"], closed=True, timeout=8)
    world.check_unharmed(before)


# --- frames -------------------------------------------------------------------

def _raw(world, cn="adv-a12", hello=True, role=wp.ROLE_AGENT):
    return world.session(cn, role) if hello else world.env.connect(cn)


FRAME_CASES = [
    # name, hello first, bytes, code, closed
    ("length-zero", True, b"\0\0\0\0\x20", "bad-frame", True),
    ("length-over-max", True, struct.pack(">I", 65537) + b"\x20",
     "frame-too-large", True),
    ("length-4GiB", True, b"\xff\xff\xff\xff\x20", "frame-too-large", True),
    ("unknown-type", True, wp.frame(0x66, b""), "unknown-type", True),
    ("server-only-type", True, wp.frame(wp.WELCOME, b""), "out-of-order",
     True),
    ("server-only-escalation", True, wp.frame(wp.ESCALATION, b""),
     "out-of-order", True),
    ("server-only-report", True, wp.frame(wp.REPORT, b""), "out-of-order",
     True),
    ("ack-before-hello", False, wp.ack("x", 1), "out-of-order", True),
    ("publish-before-hello", False, wp.frame(wp.PUBLISH, b""),
     "out-of-order", True),
    ("second-hello", True, wp.hello(), "out-of-order", True),
    ("hello-bad-version", False, wp.hello(version=9), "bad-version", True),
    ("hello-fields-out-of-order", False,
     wp.frame(wp.HELLO, wp.field(2, b"\x01") + wp.field(1, b"\x00\x01")),
     "non-canonical", True),
    ("hello-truncated-field", False,
     wp.frame(wp.HELLO, b"\x01\x00\x02\x00"), "non-canonical", True),
    ("hello-unknown-tag", False,
     wp.frame(wp.HELLO, wp.field(1, b"\x00\x01") + wp.field(2, b"\x01")
              + wp.field(40, b"x")), "unknown-tag", True),
    ("hello-bad-utf8", False,
     wp.frame(wp.HELLO, wp.field(1, b"\x00\x01") + wp.field(2, b"\x01")
              + wp.field(5, b"agent\xc3\x28")), "bad-utf8", True),
    ("hello-missing-role", False,
     wp.frame(wp.HELLO, wp.field(1, b"\x00\x01")), "missing-field", True),
    ("ack-bad-state", True, wp.frame(wp.ACK, wp.field(1, b"abc") +
                                     wp.field(2, b"\x09")),
     "bad-value", False),
    ("ack-bad-id", True, wp.frame(wp.ACK, wp.field(1, b"a b") +
                                  wp.field(2, b"\x01")),
     "bad-value", False),
    ("ack-unknown-id", True, wp.ack("no-such-alert", 1), "unknown-alert",
     False),
    ("ping-empty", True, wp.frame(wp.PING, b""), "missing-field", True),
]


@pytest.mark.parametrize("case", FRAME_CASES, ids=[c[0] for c in FRAME_CASES])
def test_bad_frame_gets_its_error_code(world, case):
    name, hello, data, code, closed = case
    env = world.env
    before = env.redis.dump()
    fs = _raw(world, hello=hello)
    try:
        fs.send_raw(data)
        world.expect_error(fs, E[code], closed=closed)
    finally:
        fs.close()
    world.check_unharmed(before)


def test_oversized_frame_is_refused_from_its_header_alone(world):
    """The length is checked before anything is read or allocated."""
    env = world.env
    before = env.redis.dump()
    fs = world.session("adv-a12")
    try:
        fs.send_raw(struct.pack(">I", 16 * 1024 * 1024) + b"\x20")
        world.expect_error(fs, E["frame-too-large"], closed=True, timeout=5)
    finally:
        fs.close()
    world.check_unharmed(before)


def test_a_frame_left_incomplete_is_closed_with_111(world):
    env = world.env
    before = env.redis.dump()
    mark = world.log_mark()
    fs = world.session("adv-a12")
    try:
        frame = wp.ack(world.alert, 1)
        # Header and a little, then a byte a while: still incomplete.
        fs.send_raw(frame[:7])
        t0 = time.monotonic()
        for i in range(3):
            time.sleep(0.4)
            fs.send_raw(frame[7 + i:8 + i])
        world.expect_error(fs, E["timeout"], closed=True, timeout=8)
        assert time.monotonic() - t0 < 6
    finally:
        fs.close()
    world.wait_log(r"a frame still incomplete after 1500 ms", mark)
    world.check_unharmed(before)


def test_frames_split_into_single_bytes_are_still_understood(world):
    fs = world.session("adv-a12")
    try:
        for b in wp.ping(99):
            fs.send_raw(bytes([b]))
            time.sleep(0.002)
        t, msg = fs.recv(timeout=10, skip_pings=False)
        while t == wp.PING:
            t, msg = fs.recv(timeout=10, skip_pings=False)
        assert t == wp.PONG and msg["nonce"] == 99
    finally:
        fs.close()


# --- alerts -------------------------------------------------------------------

def _publish_case(world, kind):
    """(sender cn, envelope bytes, expected error name, alert id)."""
    env = world.env
    key, cert = world.officer()
    aid = env.new_id("bad-" + kind)
    now = wp.now_ms()
    if kind == "bad-signature":
        return "officer-li", wp.envelope(world.body(aid), wp.der(cert),
                                         bytes(wp.SIG_LEN)), "bad-signature"
    if kind == "truncated-signature":
        b = world.body(aid)
        return "officer-li", wp.envelope(b, wp.der(cert),
                                         wp.sign(key, b)[:40]), \
            "bad-signature"
    if kind == "body-altered":
        b = world.body(aid)
        sig = wp.sign(key, b)
        return "officer-li", wp.envelope(
            world.body(aid, headline="请把钱转到安全账户",
                       issued_at=wp.decode_alert(b)["issued_at"],
                       expires_at=wp.decode_alert(b)["expires_at"]),
            wp.der(cert), sig), "bad-signature"
    if kind == "cert-from-another-ca":
        rk, rca = wp.make_ca("wuzha CA")
        k, c = wp.issue_cert(rk, rca, "officer-li")
        return "officer-li", wp.signed_envelope(world.body(aid), k, c), \
            "bad-certificate"
    if kind == "expired-cert":
        ca_key, ca = _ca(env)
        k, c = wp.issue_cert(ca_key, ca, "officer-li",
                             valid=(-3 * 86400, -86400))
        return "officer-li", wp.signed_envelope(world.body(aid), k, c), \
            "bad-certificate"
    if kind == "issuer-mismatch":
        k, c = (wp.load_key(env.key("desk-a")),
                wp.load_cert(env.crt("desk-a")))
        return "officer-li", wp.signed_envelope(world.body(aid), k, c), \
            "issuer-mismatch"
    if kind == "not-allowed-target":
        k, c = (wp.load_key(env.key("desk-a")),
                wp.load_cert(env.crt("desk-a")))
        return "desk-a", wp.signed_envelope(wp.alert_body(
            aid, "desk-a", "school-b", headline="越权"), k, c), \
            "target-not-allowed"
    if kind == "receive-only-principal":
        k, c = (wp.load_key(env.key("adv-a12")),
                wp.load_cert(env.crt("adv-a12")))
        return "adv-a12", wp.signed_envelope(wp.alert_body(
            aid, "adv-a12", "school-a-d1-c2"), k, c), "forbidden"
    if kind == "signer-cert-grants-no-issuing":
        # CA-signed, the right CN and path, but no wuzha:issue: URI.
        ca_key, ca = _ca(env)
        k, c = wp.issue_cert(ca_key, ca, "officer-li", path="jn-police")
        return "officer-li", wp.signed_envelope(world.body(aid), k, c), \
            "not-an-issuer"
    if kind == "signer-cert-for-another-node":
        # The CA made officer-li an issuer at school-b; the tree says the
        # police unit: a stale or wrong certificate, refused.
        ca_key, ca = _ca(env)
        k, c = wp.issue_cert(ca_key, ca, "officer-li",
                             path="jn-police/school-b", issue="school-b")
        return "officer-li", wp.signed_envelope(world.body(
            aid, target="school-b"), k, c), "not-an-issuer"
    if kind == "signer-is-a-server-cert":
        # A server certificate (serverAuth) never signs, whatever it says.
        ca_key, ca = _ca(env)
        k, c = wp.issue_cert(ca_key, ca, "officer-li", server_name="officer-li",
                             path="jn-police", issue="jn-police")
        return "officer-li", wp.signed_envelope(world.body(aid), k, c), \
            "not-an-issuer"
    if kind == "unknown-target":
        return "officer-li", wp.signed_envelope(
            world.body(aid, target="no-such-node"), key, cert), \
            "unknown-node"
    if kind == "replayed-id":
        return "officer-li", wp.signed_envelope(world.body(world.alert),
                                                key, cert), "duplicate-id"
    if kind == "issued-in-the-future":
        return "officer-li", wp.signed_envelope(world.body(
            aid, issued_at=now + 3600_000), key, cert), "clock-skew"
    if kind == "issued-long-ago":
        return "officer-li", wp.signed_envelope(world.body(
            aid, issued_at=now - 3600_000), key, cert), "clock-skew"
    if kind == "expires-before-issued":
        return "officer-li", wp.signed_envelope(world.body(
            aid, issued_at=now, expires_at=now - 1000), key, cert), \
            "bad-expiry"
    if kind == "already-expired":
        return "officer-li", wp.signed_envelope(world.body(
            aid, issued_at=now - 60_000, expires_at=now - 1000), key,
            cert), "bad-expiry"
    if kind == "update-of-unknown-alert":
        return "officer-li", wp.signed_envelope(world.body(
            aid, msg_type=wp.MSG_UPDATE, references="no-such-alert"), key,
            cert), "unknown-alert"
    if kind == "cancel-of-another-target":
        return "officer-li", wp.signed_envelope(world.body(
            aid, msg_type=wp.MSG_CANCEL, references=world.alert,
            target="school-b"), key, cert), "bad-reference"
    if kind == "alert-with-reference":
        return "officer-li", wp.signed_envelope(world.body(
            aid, references=world.alert), key, cert), "bad-reference"
    if kind == "text-too-long":
        return "officer-li", wp.signed_envelope(world.body(
            aid, text_="骗" * 1500), key, cert), "too-long"
    if kind == "bad-utf8-headline":
        vals = dict(id=aid, issuer="officer-li", target="school-a",
                    msg_type=wp.MSG_ALERT, category=1, severity=1,
                    headline="x", text="", issued_at=now,
                    expires_at=now + 3600_000, relay_required=0)
        b = wp.encode_table(wp.T_ALERT_BODY, vals)
        b = b.replace(b"\x01x", b"\x01\xff", 1)     # headline "x" -> 0xff
        return "officer-li", wp.envelope(b, wp.der(cert), wp.sign(key, b)), \
            "bad-utf8"
    if kind == "garbage-envelope":
        # Tags out of order.
        return "officer-li", b"\x02\x00\x01x\x01\x00\x01y", "non-canonical"
    raise ValueError(kind)


PUBLISH_CASES = [
    "bad-signature", "truncated-signature", "body-altered",
    "cert-from-another-ca", "expired-cert", "issuer-mismatch",
    "not-allowed-target", "receive-only-principal", "unknown-target",
    "replayed-id", "issued-in-the-future", "issued-long-ago",
    "expires-before-issued", "already-expired", "update-of-unknown-alert",
    "cancel-of-another-target", "alert-with-reference", "text-too-long",
    "bad-utf8-headline", "garbage-envelope", "signer-cert-grants-no-issuing",
    "signer-cert-for-another-node", "signer-is-a-server-cert",
]


# Envelopes whose body the decoder refuses: there is no id to trust.
NO_ID = {"bad-utf8-headline", "garbage-envelope", "expires-before-issued",
         "alert-with-reference"}


@pytest.mark.parametrize("kind", PUBLISH_CASES)
def test_bad_publish_is_refused_stored_nowhere_and_logged(world, kind):
    env = world.env
    cn, env_bytes, code = _publish_case(world, kind)
    before = env.redis.dump()
    mark = world.log_mark()
    fs = world.session(cn, role=wp.ROLE_CONSOLE)
    try:
        fs.send_raw(wp.publish(env_bytes))
        msg = world.expect_error(fs, E[code], closed=False)
    finally:
        fs.close()
    # The audit line: who, from where, which alert, why, the code.
    world.wait_log(r"conn \d+ %s@127\.0\.0\.1:\d+: (alert \S+: refused|"
                   r"error): .*\(%d\)" % (re.escape(cn), E[code]), mark)
    if kind not in NO_ID:
        # The refusal names the alert, in the ERROR and in the log.
        want = world.alert if kind == "replayed-id" else "bad-%s-" % kind
        assert msg.get("ref", "").startswith(want), (kind, msg)
        world.wait_log(r"alert %s: refused" % re.escape(msg["ref"]), mark)
    if msg.get("ref"):
        assert not env.redis.exists("alert:" + msg["ref"]) or \
            msg["ref"] == world.alert
    world.check_unharmed(before)


def test_the_bystander_never_saw_a_refused_alert(world):
    """Nothing refused was pushed: the bystander's socket holds no ALERT."""
    try:
        t, msg = world.bystander.recv(timeout=1)
        raise AssertionError("bystander got %s %r" % (t, msg))
    except TimeoutError:
        pass


# --- acks ---------------------------------------------------------------------

def test_ack_for_an_alert_not_addressed_to_the_sender_is_refused(world):
    env = world.env
    before = env.redis.dump()
    fs = world.session("adv-b11")      # school-b; the alert is school-a's
    try:
        fs.send_raw(wp.ack(world.alert, READ))
        world.expect_error(fs, E["not-addressed"], closed=False,
                           ref=world.alert)
    finally:
        fs.close()
    world.check_unharmed(before)


def test_ack_going_backwards_is_refused_and_not_counted(world):
    env = world.env
    before = env.redis.dump()
    fs = world.session("adv-a11")      # already relayed
    try:
        fs.send_raw(wp.ack(world.alert, READ))
        world.expect_error(fs, E["ack-backwards"], closed=False,
                           ref=world.alert)
        # delivered after relayed: idempotent, answered with the state.
        fs.send_raw(wp.ack(world.alert, DELIVERED))
        assert fs.expect(wp.ACK_OK)["state"] == RELAYED
    finally:
        fs.close()
    world.check_unharmed(before)


def test_a_console_without_receive_cannot_ack(world):
    env = world.env
    before = env.redis.dump()
    fs = world.session("officer-li", role=wp.ROLE_CONSOLE)
    try:
        fs.send_raw(wp.ack(world.alert, READ))
        world.expect_error(fs, E["not-addressed"], closed=False)
    finally:
        fs.close()
    world.check_unharmed(before)


# --- limits, each with a daemon of its own ---------------------------------------

def test_connections_per_address_are_limited(env):
    env.setup(limits={"max_connections_per_address": 3}, log_level="info")
    socks = [env.session("adv-a1%d" % i)[0] for i in (1, 2)]
    socks.append(env.session("desk-a", role=wp.ROLE_CONSOLE)[0])
    try:
        mark = len(env.daemon.log())
        assert _tls_refused(env, env.crt("adv-b11"), env.key("adv-b11"))
        env.daemon.wait_log(r"refusing 127\.0\.0\.1: 3 connections from "
                            r"this address, the limit", start=mark)
        # ::1 is another address: it may still connect, when the host has it.
        # One leaves: there is room again.
        socks.pop().close()
        fs = None
        harness.wait_for(lambda: not _tls_refused(
            env, env.crt("adv-b11"), env.key("adv-b11")), 10,
            "room for a connection again")
        fs, _ = env.session("adv-b11")
        socks.append(fs)
    finally:
        for s in socks:
            s.close()


def test_total_connections_are_limited(env):
    env.setup(limits={"max_connections": 2}, log_level="info")
    a, _ = env.session("adv-a11")
    b, _ = env.session("adv-a12")
    try:
        mark = len(env.daemon.log())
        assert _tls_refused(env, env.crt("adv-b11"), env.key("adv-b11"))
        env.daemon.wait_log(r"refusing 127\.0\.0\.1: 2 connections, the "
                            r"limit \(limits\.max_connections\)", start=mark)
        for fs in (a, b):           # those in are not disturbed
            fs.send_raw(wp.ping(5))
            assert fs.expect(wp.PONG)["nonce"] == 5
    finally:
        a.close()
        b.close()


def test_publish_rate_per_principal_is_limited(env):
    env.setup(limits={"publish_rate": 60, "publish_burst": 3},
              log_level="info")
    key = wp.load_key(env.key("officer-li"))
    cert = wp.load_cert(env.crt("officer-li"))
    fs, _ = env.session("officer-li", role=wp.ROLE_CONSOLE)
    other, _ = env.session("desk-a", role=wp.ROLE_CONSOLE)
    try:
        ids = []
        for i in range(3):
            aid = env.new_id("rate")
            fs.send_raw(wp.publish(wp.signed_envelope(wp.alert_body(
                aid, "officer-li", "school-a"), key, cert)))
            assert fs.expect(wp.PUBLISHED)["id"] == aid
            ids.append(aid)
        before = env.redis.dump()
        aid = env.new_id("rate")
        fs.send_raw(wp.publish(wp.signed_envelope(wp.alert_body(
            aid, "officer-li", "school-a"), key, cert)))
        t, msg = fs.recv()
        assert t == wp.ERROR and msg["code"] == E["limit"], msg
        assert "too fast" in msg["text"], msg
        assert env.redis.dump() == before
        # The connection stays; another principal has its own bucket.
        fs.send_raw(wp.ping(3))
        assert fs.expect(wp.PONG)["nonce"] == 3
        dk = wp.load_key(env.key("desk-a"))
        dc = wp.load_cert(env.crt("desk-a"))
        did = env.new_id("rate-desk")
        other.send_raw(wp.publish(wp.signed_envelope(wp.alert_body(
            did, "desk-a", "school-a"), dk, dc)))
        assert other.expect(wp.PUBLISHED)["id"] == did
        # A token a second comes back.
        time.sleep(1.2)
        fs.send_raw(wp.publish(wp.signed_envelope(wp.alert_body(
            aid, "officer-li", "school-a"), key, cert)))
        assert fs.expect(wp.PUBLISHED)["id"] == aid
    finally:
        fs.close()
        other.close()


# --- reloads ------------------------------------------------------------------

def _crl_setup(env, **opts):
    env.setup(daemon=False)
    crl = os.path.join(env.pki, "crl.pem")
    assert os.path.exists(crl)
    env.start_daemon(crl=crl, log_level="info", **opts)
    return crl


def test_crl_reload_closes_the_revoked_principal_and_refuses_it(env):
    _crl_setup(env)
    victim, _ = env.session("adv-a11")
    keep, _ = env.session("adv-a12")
    # Keep a copy: revoking moves the certificate out of the PKI dir.
    saved = os.path.join(env.dir, "revoked-adv-a11")
    os.makedirs(saved)
    crt = shutil.copy(env.crt("adv-a11"), saved)
    key = shutil.copy(env.key("adv-a11"), saved)
    env.run([harness.binary("wuzha-ca"), "revoke", env.pki, "adv-a11"])
    mark = len(env.daemon.log())
    env.daemon.proc.send_signal(signal.SIGHUP)
    try:
        t, msg = victim.recv(timeout=10)
        assert t == wp.ERROR and msg["code"] == E["cert-revoked"], msg
        assert "revoked" in msg["text"], msg
        gone, _ = victim.wait_closed(timeout=10)
        assert gone
        env.daemon.wait_log(r"reload: 2 certificates checked again against "
                            r"the new CA and CRL in \d+ ms \(\d+ turns?, "
                            r"the longest [\d.]+ ms\); 1 connection closed",
                            start=mark)
        # The others stay.
        keep.send_raw(wp.ping(11))
        assert keep.expect(wp.PONG)["nonce"] == 11
        # And the revoked certificate no longer gets in.
        mark = len(env.daemon.log())
        assert _tls_refused(env, crt, key)
        env.daemon.wait_log(r"tls handshake failed: certificate refused: "
                            r"certificate revoked", start=mark)
        # Another reload checks the one left, and keeps it.
        mark = len(env.daemon.log())
        env.daemon.proc.send_signal(signal.SIGHUP)
        env.daemon.wait_log(r"reload: 1 certificate checked again .*; 0 "
                            r"connections closed", start=mark)
        keep.send_raw(wp.ping(12))
        assert keep.expect(wp.PONG)["nonce"] == 12
    finally:
        victim.close()
        keep.close()


def test_revoked_issuer_certificate_in_an_alert_is_refused_with_301(env):
    _crl_setup(env)
    saved = os.path.join(env.dir, "saved")
    os.makedirs(saved)
    crt = shutil.copy(env.crt("desk-a"), saved)
    key = shutil.copy(env.key("desk-a"), saved)
    env.run([harness.binary("wuzha-ca"), "revoke", env.pki, "desk-a"])
    env.daemon.proc.send_signal(signal.SIGHUP)
    env.daemon.wait_log(r"reload: configuration, certificates and CRL "
                        r"applied")
    # desk-a could no longer connect; what is shown here is the check of
    # the issuer certificate inside an alert, which comes (chain, CRL)
    # before the check that issuer and sender agree.
    fs, _ = env.session("officer-li", role=wp.ROLE_CONSOLE)
    try:
        before = env.redis.dump()
        aid = env.new_id("revoked-issuer")
        fs.send_raw(wp.publish(wp.signed_envelope(wp.alert_body(
            aid, "desk-a", "school-a-d1"), wp.load_key(key),
            wp.load_cert(crt))))
        t, msg = fs.recv()
        assert t == wp.ERROR and msg["code"] == E["bad-certificate"], msg
        assert "revoked" in msg["text"], msg
        assert env.redis.dump() == before
    finally:
        fs.close()


def test_resumed_session_of_a_revoked_certificate_is_closed(env):
    _crl_setup(env, ticket_key=True)
    ctx = wp.client_context(env.ca, env.crt("adv-a11"), env.key("adv-a11"))
    raw = socket.create_connection(("127.0.0.1", env.port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="wuzhad")
    s.settimeout(10)
    fs = wp.FrameSocket(s)
    fs.send_raw(wp.hello())
    fs.expect(wp.WELCOME)
    time.sleep(0.3)
    try:
        fs.recv(timeout=0.5)
    except TimeoutError:
        pass
    sess = s.session
    assert sess is not None and sess.has_ticket
    fs.close()
    env.run([harness.binary("wuzha-ca"), "revoke", env.pki, "adv-a11"])
    mark = len(env.daemon.log())
    env.daemon.proc.send_signal(signal.SIGHUP)
    env.daemon.wait_log(r"reload: configuration", start=mark)
    raw = socket.create_connection(("127.0.0.1", env.port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="wuzhad", session=sess)
    s.settimeout(10)
    fs = wp.FrameSocket(s)
    try:
        assert s.session_reused, "the ticket did not resume"
        t, msg = fs.recv(timeout=10)
        assert t == wp.ERROR and msg["code"] == E["cert-revoked"], msg
        assert fs.wait_closed(timeout=10)[0]
    finally:
        fs.close()


def test_bad_config_on_sighup_keeps_the_old_one(env):
    env.setup(log_level="info")
    fs, _ = env.session("adv-a11")
    conf = os.path.join(env.dir, "wuzhad.yaml")
    with open(conf) as f:
        good = f.read()
    try:
        for broken in ("limits:\n  max_frame: [\n",
                       good + "limits:\n  max_frame: 2KiB\n",  # duplicate
                       good.replace("tls:", "tls:\n  crl: /nonexistent.pem")):
            with open(conf, "w") as f:
                f.write(broken)
            mark = len(env.daemon.log())
            env.daemon.proc.send_signal(signal.SIGHUP)
            env.daemon.wait_log(r"reload refused, keeping the running "
                                r"configuration", start=mark)
            fs.send_raw(wp.ping(1))
            assert fs.expect(wp.PONG)["nonce"] == 1
        # A good change is applied, and the agent stays connected.
        with open(conf, "w") as f:
            f.write(good.replace("limits:\n", "limits:\n  max_frame: 32KiB\n"
                                 "  max_text: 8KiB\n"))
        mark = len(env.daemon.log())
        env.daemon.proc.send_signal(signal.SIGHUP)
        env.daemon.wait_log(r"reload: configuration, certificates", start=mark)
        fs.send_raw(wp.ping(2))
        assert fs.expect(wp.PONG)["nonce"] == 2
        new, welcome = env.session("adv-a12")
        new.close()
        assert welcome["max_frame"] == 32 * 1024, welcome
    finally:
        fs.close()


# --- the agent's side: a daemon with a CA-signed certificate of another name --

def test_agent_refuses_a_daemon_whose_certificate_names_another_host(env):
    env.set_tree(harness.demo_tree())
    env.make_pki(["adv-a11"])
    ca_key, ca = _ca(env)
    k, c = wp.issue_cert(ca_key, ca, "evil", server_name="evil")
    crt, key = wp.write_pem(env.dir, "evil", k, c)
    r = wp.RogueDaemon(env.ca, crt, key, node="school-a-d1-c1").start()
    env.port = r.port
    try:
        a = env.start_agent("adv-a11")
        a.proc.wait_log(r"(certificate verify failed|hostname mismatch|"
                        r"does not match)", timeout=15)
        time.sleep(0.5)
        assert a.shown_ids() == []
        assert r.acks() == []
    finally:
        r.stop()


def test_agent_with_a_crl_refuses_alerts_signed_with_a_revoked_cert(env):
    """A compromised daemon pushes an alert signed with a revoked
    certificate: an agent given the CRL refuses it by itself."""
    env.set_tree(harness.demo_tree())
    env.make_pki(["officer-li", "desk-a", "adv-a11"])
    saved = os.path.join(env.dir, "saved")
    os.makedirs(saved)
    crt = shutil.copy(env.crt("desk-a"), saved)
    key = shutil.copy(env.key("desk-a"), saved)
    env.run([harness.binary("wuzha-ca"), "revoke", env.pki, "desk-a"])
    r = wp.RogueDaemon(env.ca, env.crt("wuzhad"), env.key("wuzhad"),
                       node="school-a-d1-c1").start()
    env.port = r.port
    try:
        revoked_id = env.new_id("revoked")
        good_id = env.new_id("genuine")
        r.alerts = [
            wp.signed_envelope(wp.alert_body(revoked_id, "desk-a",
                                             "school-a"),
                               wp.load_key(key), wp.load_cert(crt)),
            wp.signed_envelope(wp.alert_body(good_id, "officer-li",
                                             "school-a"),
                               wp.load_key(env.key("officer-li")),
                               wp.load_cert(env.crt("officer-li")))]
        hook = "%s %s %s 0" % (harness.PYTHON,
                               os.path.join(env.dir, "hook.py"),
                               os.path.join(env.dir, "agent-adv-a11.jsonl"))
        conf = env.client_conf("adv-a11", name="agent-adv-a11", hook=hook,
                               state=os.path.join(env.dir, "a.state"))
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace("tls:\n", "tls:\n  crl: \"%s\"\n" %
                                 os.path.join(env.pki, "crl.pem")))
        a = env.start_agent("adv-a11", conf=conf)
        a.wait_shown(good_id, timeout=20)
        a.proc.wait_log(r"refused alert %s seq \d+: bad-certificate: "
                        r".*revoked" % re.escape(revoked_id), timeout=5)
        assert a.shown_ids() == [good_id]
        assert not any(m["id"] == revoked_id for m in r.acks())
    finally:
        r.stop()


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
