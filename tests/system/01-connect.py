# SPDX-License-Identifier: ISC
"""01-connect: TLS admission, HELLO/WELCOME and the first-frame rules."""

import os
import re
import signal
import ssl
import struct
import subprocess
import time

import pytest

import harness
import wuzha_proto as wp


def test_agent_hello_gets_welcome_with_its_principal_and_node(wz):
    fs, w = wz.session("adv-a11")
    try:
        assert w["version"] == wp.VERSION
        assert w["principal"] == "adv-a11"
        assert w["node"] == "school-a-d1-c1"
        assert w["rights"] == wp.R_RECEIVE
        assert w["heartbeat"] > 0
        assert w["max_frame"] == wp.FRAME_MAX_DEFAULT
        assert abs(w["server_time"] - wp.now_ms()) < 60_000
    finally:
        fs.close()


def test_officer_welcome_carries_issue_and_observe_rights(wz):
    fs, w = wz.session("officer-li", role=wp.ROLE_CONSOLE)
    try:
        assert w["principal"] == "officer-li"
        assert w["node"] == "jn-police"
        assert w["rights"] == wp.R_ISSUE | wp.R_OBSERVE
    finally:
        fs.close()


def test_desk_welcome_carries_all_three_rights(wz):
    fs, w = wz.session("desk-b")
    try:
        assert (w["principal"], w["node"]) == ("desk-b", "school-b")
        assert w["rights"] == wp.R_RECEIVE | wp.R_ISSUE | wp.R_OBSERVE
    finally:
        fs.close()


def _refused_in_handshake(wz, cert, key):
    """
    True if the daemon refuses this client certificate during TLS.  With
    TLS 1.3 the client may finish its side before the server's verdict
    arrives, so a refusal can also show on the first read: as a TLS alert
    or a close, never as a WELCOME.
    """
    try:
        fs = wz.connect(cert=cert, key=key)
    except (ssl.SSLError, ConnectionError, OSError):
        return True
    try:
        try:
            fs.send_raw(wp.hello())
        except (ssl.SSLError, ConnectionError, OSError):
            return True
        closed, frames = fs.wait_closed(10)
        assert closed, "connection still open after 10s"
        assert all(t != wp.WELCOME for t, _ in frames), frames
        return True
    finally:
        fs.close()


def test_client_cert_from_another_ca_is_refused_in_tls_handshake(wz):
    rogue_key, rogue_ca = wp.make_ca("not-the-wuzha-ca")
    key, cert = wp.issue_cert(rogue_key, rogue_ca, "officer-li")
    crt, kp = wp.write_pem(wz.dir, "foreign-officer", key, cert)
    assert _refused_in_handshake(wz, crt, kp)
    # The daemon goes on serving the real officer.
    fs, w = wz.session("officer-li", role=wp.ROLE_CONSOLE)
    fs.close()
    assert w["principal"] == "officer-li"


def test_self_signed_client_cert_is_refused_in_tls_handshake(wz):
    key = wp.new_key()
    _, cert = wp.issue_cert(key, None, "officer-li", key=key)
    crt, kp = wp.write_pem(wz.dir, "selfsigned-officer", key, cert)
    assert _refused_in_handshake(wz, crt, kp)


def test_client_without_certificate_is_refused(wz):
    assert _refused_in_handshake(wz, None, None)


def test_cert_from_the_ca_whose_cn_is_not_a_principal_gets_error_200(wz):
    wz.client_cert("stranger")
    # A client says HELLO as soon as TLS is up; the refusal must reach it
    # every time, not be lost to a reset.  A few tries to catch a race.
    for attempt in range(5):
        fs = wz.connect("stranger")
        try:
            fs.send_raw(wp.hello())
            t, msg = fs.recv(10)
            assert t == wp.ERROR, (attempt, t, msg)
            assert msg["code"] == wp.E_PRINCIPAL, msg
            assert "stranger" in msg.get("text", ""), msg
            closed, frames = fs.wait_closed(10)
            assert closed
            assert all(t != wp.WELCOME for t, _ in frames)
        except wp.Closed as ex:
            raise AssertionError("attempt %d: connection closed before the "
                                 "ERROR 200 could be read: %s"
                                 % (attempt, ex)) from ex
        finally:
            fs.close()


@pytest.mark.parametrize("path, said", [
    (None, r"certificate of adv-a12 has no wuzha:path: URI \(the tree "
           r"places it at jn-police/school-a/school-a-d1/school-a-d1-c2\)"),
    ("jn-police/school-b/school-b-d1/school-b-d1-c2",
     r"certificate of adv-a12 says wuzha:path:jn-police/school-b/"
     r"school-b-d1/school-b-d1-c2, the tree places it at jn-police/"
     r"school-a/school-a-d1/school-a-d1-c2"),
])
def test_receiver_whose_cert_lacks_its_tree_path_gets_error_200(wz, path,
                                                                said):
    # A CA-signed cert for a real receiver, but not saying where it sits:
    # its agent could accept nothing, so the daemon says why at once.
    ca_key, ca = wp.load_key(wz.ca_key), wp.load_cert(wz.ca)
    k, c = wp.issue_cert(ca_key, ca, "adv-a12", path=path)
    crt, key = wp.write_pem(wz.dir, "adv-a12-nopath", k, c)
    fs = wz.connect(cert=crt, key=key)
    try:
        fs.send_raw(wp.hello())
        t, msg = fs.recv(10)
        assert t == wp.ERROR and msg["code"] == wp.E_PRINCIPAL, (t, msg)
        assert re.search(said, msg.get("text", "")), msg
    finally:
        fs.close()
    wz.daemon.wait_log(r"adv-a12@127\.0\.0\.1:\d+: error: " + said,
                       timeout=5)


def test_receiver_moved_in_the_tree_is_cut_off_until_its_cert_says_so(env):
    """
    A tree change that moves a connected receiver to another class: its
    certificate still says the old path, so its agent could accept
    nothing sent to the new place.  The daemon closes the session with
    ERROR 200 naming both paths; a receiver that stayed is kept.
    """
    env.setup(timeouts={"tree_refresh": "1h"})
    moved, _ = env.session("adv-a12")
    kept, _ = env.session("adv-a11")
    try:
        t = harness.demo_tree()
        for p in t.principals:
            if p["cn"] == "adv-a12":
                p["node"] = "school-b-d1-c2"
        env.set_tree(t)
        env.import_tree()
        mark = len(env.daemon.log())
        env.daemon.proc.send_signal(signal.SIGHUP)
        said = (r"certificate of adv-a12 says wuzha:path:jn-police/school-a/"
                r"school-a-d1/school-a-d1-c2, the tree places it at "
                r"jn-police/school-b/school-b-d1/school-b-d1-c2")
        t, msg = moved.recv(10)
        while t == wp.PING:
            t, msg = moved.recv(10)
        assert t == wp.ERROR and msg["code"] == wp.E_PRINCIPAL, (t, msg)
        assert re.search(said, msg.get("text", "")), msg
        assert moved.wait_closed(10)[0]
        env.daemon.wait_log(r"adv-a12@127\.0\.0\.1:\d+: error: " + said,
                            timeout=5, start=mark)
        kept.send_raw(wp.ping(7))
        t, msg = kept.recv(10)
        while t == wp.PING:
            t, msg = kept.recv(10)
        assert t == wp.PONG, (t, msg)
    finally:
        moved.close()
        kept.close()


def test_wuzhactl_with_a_cert_that_is_not_a_principal_says_so(wz):
    wz.client_cert("stranger")
    for _ in range(3):
        r = wz.ctl("stranger", "status", "whatever")
        assert r.rc == 1, r
        assert r.error() and r.error()[:2] == ("not-a-principal", 200), r


def test_frame_before_hello_other_than_hello_gets_error_107(wz):
    fs = wz.connect("adv-a11")
    try:
        fs.send_raw(wp.ping(42))
        t, msg = fs.recv(10, skip_pings=False)
        assert t == wp.ERROR, (t, msg)
        assert msg["code"] == wp.E_STATE, msg
        closed, _ = fs.wait_closed(10)
        assert closed, "daemon kept a connection that broke the protocol"
    finally:
        fs.close()


def test_ack_before_hello_gets_error_107(wz):
    fs = wz.connect("adv-a11")
    try:
        fs.send_raw(wp.ack("nothing", wp.ACK_READ))
        t, msg = fs.recv(10)
        assert t == wp.ERROR and msg["code"] == wp.E_STATE, (t, msg)
    finally:
        fs.close()


def test_hello_with_unsupported_version_gets_error_108(wz):
    fs = wz.connect("adv-a11")
    try:
        fs.send_raw(wp.hello(version=wp.VERSION + 1))
        t, msg = fs.recv(10)
        assert t == wp.ERROR and msg["code"] == wp.E_VERSION, (t, msg)
    finally:
        fs.close()


def test_second_hello_gets_error_107(wz):
    fs, _ = wz.session("adv-a11")
    try:
        fs.send_raw(wp.hello())
        t, msg = fs.recv(10)
        assert t == wp.ERROR and msg["code"] == wp.E_STATE, (t, msg)
    finally:
        fs.close()


def test_frame_longer_than_the_maximum_gets_error_101(wz):
    fs = wz.connect("adv-a11")
    try:
        # Only the header: the daemon must refuse before reading a body.
        fs.send_raw(struct.pack(">IB", wp.FRAME_MAX_DEFAULT + 2, wp.HELLO))
        t, msg = fs.recv(10)
        assert t == wp.ERROR and msg["code"] == wp.E_FRAME_SIZE, (t, msg)
        closed, _ = fs.wait_closed(10)
        assert closed
    finally:
        fs.close()


def test_ping_after_welcome_gets_pong_with_same_nonce(wz):
    fs, _ = wz.session("adv-a11")
    try:
        fs.send_raw(wp.ping(0x0123456789ABCDEF))
        t, msg = fs.recv(10, skip_pings=False)
        while t == wp.PING:      # a heartbeat of the daemon's own
            fs.send_raw(wp.encode(wp.PONG, nonce=msg.get("nonce", 0)))
            t, msg = fs.recv(10, skip_pings=False)
        assert t == wp.PONG and msg["nonce"] == 0x0123456789ABCDEF, (t, msg)
    finally:
        fs.close()


def test_many_agents_connect_at_once(wz):
    socks = []
    try:
        for cn in ("desk-a", "desk-b", "liaison-a1", "liaison-b2",
                   "adv-a11", "adv-a22", "adv-b12", "adv-b21"):
            socks.append(wz.session(cn)[0])
        # All of them stay up: a PING on each is answered.
        for i, fs in enumerate(socks):
            fs.send_raw(wp.ping(i))
        for i, fs in enumerate(socks):
            t, msg = fs.recv(10, skip_pings=False)
            while t == wp.PING:
                fs.send_raw(wp.encode(wp.PONG, nonce=msg.get("nonce", 0)))
                t, msg = fs.recv(10, skip_pings=False)
            assert (t, msg.get("nonce")) == (wp.PONG, i)
    finally:
        for fs in socks:
            fs.close()


def test_daemon_sends_its_certificate_without_the_root(wz):
    # The chain is built once at start-up, without the root every agent
    # holds: one certificate on the wire, and no chain building (a
    # signature check) in each handshake.
    r = subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % wz.port,
         "-servername", "wuzhad", "-CAfile", wz.ca,
         "-cert", wz.crt("adv-a11"), "-key", wz.key("adv-a11"),
         "-showcerts", "-verify_return_error"],
        input=b"", capture_output=True, timeout=30)
    out = r.stdout.decode()
    assert "Verify return code: 0 (ok)" in out, out + r.stderr.decode()
    assert out.count("-----BEGIN CERTIFICATE-----") == 1, out


def test_real_agent_connects_and_stays_connected(wz):
    a = wz.start_agent("adv-b22")
    # A published alert reaching it proves the session is up.
    aid, _, _ = wz.publish("officer-li", "school-b")
    a.wait_shown(aid)
    time.sleep(0.5)
    assert a.proc.alive()


def test_shipped_demo_tree_imports_and_its_principals_connect(env):
    env.setup(tree=os.path.join(harness.SRC, "conf", "tree.yaml"))
    fs, w = env.session("advisor-a-cs-1")
    fs.close()
    assert (w["principal"], w["node"], w["rights"]) == \
        ("advisor-a-cs-1", "a-cs-1", wp.R_RECEIVE)
    # school-a: its desk, two deans and four advisors.
    _, _, targeted = env.publish("officer-li", "school-a")
    assert targeted == 7
    _, _, targeted = env.publish("desk-b", "b-g2")
    assert targeted == 3


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
