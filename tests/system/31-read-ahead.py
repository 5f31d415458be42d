# SPDX-License-Identifier: ISC
"""
31-read-ahead: wuzhad reads TLS with read-ahead, so one read can bring
several records.  Every one of them is handled at once, not left in
OpenSSL's buffer until the peer happens to send more.
"""

import socket

import harness
import wuzha_proto as wp


def test_hello_sent_with_the_last_handshake_flight_is_answered(wz):
    # Corked from the start, the client's Finished and its HELLO leave
    # in one segment, and the daemon's read of the one brings the other.
    ctx = wp.client_context(wz.ca, wz.crt("adv-a12"), wz.key("adv-a12"))
    raw = socket.create_connection(("127.0.0.1", wz.port), timeout=10)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    try:
        s = ctx.wrap_socket(raw, server_hostname="wuzhad")
    except Exception:
        raw.close()
        raise
    s.settimeout(10)
    fs = wp.FrameSocket(s)
    try:
        fs.send_raw(wp.hello())
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        t, msg = fs.recv(5)
        assert t == wp.WELCOME and msg["principal"] == "adv-a12", (t, msg)
    finally:
        fs.close()


def _corked(fs, records):
    """Send each of records as its own TLS record, all in one segment."""
    fs.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    for r in records:
        fs.send_raw(r)
    fs.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)


def test_records_read_together_are_all_answered(wz):
    fs, _ = wz.session("adv-a11")
    try:
        _corked(fs, [wp.ping(n) for n in range(1, 9)])
        got = []
        for _ in range(8):
            t, msg = fs.recv(5, skip_pings=False)
            assert t == wp.PONG, (t, msg)
            got.append(msg["nonce"])
        assert got == list(range(1, 9))
    finally:
        fs.close()


def test_acks_read_together_are_all_stored(wz):
    ids = [wz.publish("officer-li", "school-a-d1-c1")[0] for _ in range(5)]
    fs, _ = wz.session("adv-a11")
    try:
        for _ in ids:
            fs.expect(wp.ALERT)
        _corked(fs, [wp.ack(aid, wp.ACK_DELIVERED) for aid in ids])
        for aid in ids:
            msg = fs.expect(wp.ACK_OK, timeout=5)
            assert msg["id"] == aid
    finally:
        fs.close()
    for aid in ids:
        harness.wait_for(lambda: "adv-a11" in wz.acks(aid), 5,
                         "ack of %s stored" % aid)
