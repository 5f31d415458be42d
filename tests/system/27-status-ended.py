# SPDX-License-Identifier: ISC
"""
27-status-ended: an alert that was cancelled, or has expired, does not
look live.  STATUS says where it is in its life (lifecycle, cancelled_by,
ended_at, from its record in Redis); `wuzhactl status` says "cancelled by
ID at T" or "expired at T" above its frozen counters; `wuzhactl pending`
lists nobody as awaited for it, only how many had not read when it
ended; `wuzhactl watch` stops at once saying how it ended, whether it
ended before the watch began or during it.
"""

import json
import os
import re
import subprocess
import threading
import time

import harness
import wuzha_proto as wp

TARGET = "school-a-d1"
RECEIVERS = ("liaison-a1", "adv-a11", "adv-a12")
# Local time with the zone's name (UTC, CST ...), as TZ says.
TIME_RX = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Za-z0-9+-]+"


def _raw_status(wz, aid, cn="desk-a", flags=0x01):
    fs, _ = wz.session(cn, role=wp.ROLE_CONSOLE)
    try:
        fs.send_raw(wp.encode(wp.STATUS_REQ, id=aid, flags=flags))
        return fs.expect(wp.STATUS)
    finally:
        fs.close()


def _pending_lines(out):
    """The member rows of `wuzhactl pending`: lines starting with a CN."""
    return [l for l in out.splitlines() if l.split()[:1] and
            l.split()[0] in RECEIVERS]


def _cancel(wz, aid):
    cid, _, _ = wz.publish("desk-a", TARGET, headline="取消 " + aid,
                           extra=("--type", "cancel", "--references", aid))
    harness.wait_for(lambda: aid not in wz.redis.zrange("live"), 10,
                     "the cancelled alert to leave the live set")
    return cid


def _wait_expired(wz, aid):
    expires = int(wz.stored_alert(aid)["expires"])
    delay = expires / 1000.0 - time.time() + 0.3
    assert delay < 5, "expires_at is %.1f s away" % delay
    if delay > 0:
        time.sleep(delay)
    return expires


def test_live_alert_status_has_no_lifecycle_and_pending_lists(wz):
    aid, _, targeted = wz.publish("desk-a", TARGET)
    assert targeted == 3
    assert wz.ctl("adv-a11", "ack", aid, "read").rc == 0
    st = _raw_status(wz, aid)
    for f in ("lifecycle", "cancelled_by", "ended_at"):
        assert f not in st, st
    r = wz.ctl("desk-a", "status", aid)
    assert r.rc == 0 and "no longer live" not in r.out, r
    r = wz.ctl("desk-a", "pending", aid)
    assert r.rc == 0, r
    assert sorted(l.split()[0] for l in _pending_lines(r.out)) == \
        ["adv-a12", "liaison-a1"], r
    assert "2 of 3 have not read" in r.out, r
    doc = json.loads(wz.ctl("desk-a", "status", aid, "--json").out)
    assert doc["lifecycle"] == "live" and "cancelled_by" not in doc, doc


def test_cancelled_alert_says_by_whom_and_when(wz):
    aid, _, _ = wz.publish("desk-a", TARGET)
    assert wz.ctl("adv-a11", "ack", aid, "read").rc == 0
    before = int(time.time() * 1000)
    cid = _cancel(wz, aid)
    rec = wz.stored_alert(aid)
    assert rec.get("cancelled_by") == cid, rec
    ended = int(rec["ended_at"])
    assert before - 1000 <= ended <= int(time.time() * 1000) + 1000, rec

    # On the wire: lifecycle 1, the cancel's id, when; counters frozen.
    st = _raw_status(wz, aid)
    assert st["lifecycle"] == wp.LIFE_CANCELLED, st
    assert st["cancelled_by"] == cid and st["ended_at"] == ended, st
    assert (st["nodes"][0]["targeted"], st["nodes"][0]["read"]) == (3, 1), st

    r = wz.ctl("desk-a", "status", aid)
    assert r.rc == 0, r
    header = r.out.splitlines()[:2]
    assert re.search(r"^cancelled by %s at %s: no longer live"
                     % (re.escape(cid), TIME_RX), header[1]), r
    doc = json.loads(wz.ctl("desk-a", "status", aid, "--json").out)
    assert (doc["lifecycle"], doc["cancelled_by"], doc["ended_at"]) == \
        ("cancelled", cid, ended), doc

    # Nobody is chased for a withdrawn alert.
    r = wz.ctl("desk-a", "pending", aid)
    assert r.rc == 0, r
    assert _pending_lines(r.out) == [], r
    assert re.search(r"alert %s cancelled by %s at %s: no longer live, "
                     r"nobody is awaited \(2 of 3 had not read by then\)"
                     % (re.escape(aid), re.escape(cid), TIME_RX), r.out), r
    doc = json.loads(wz.ctl("desk-a", "pending", aid, "--json").out)
    assert doc["pending"] == [] and doc["lifecycle"] == "cancelled", doc
    assert doc["not_read_when_ended"] == 2, doc

    # A watch of it stops at once, saying so.
    t0 = time.monotonic()
    r = wz.ctl("desk-a", "watch", aid, timeout=15)
    assert time.monotonic() - t0 < 5, r
    assert r.rc == 1, r
    assert "%s cancelled by %s at" % (aid, cid) in r.err, r
    assert "no longer live" in r.err, r


def test_expired_alert_says_when(wz):
    aid, _, _ = wz.publish("desk-a", TARGET, extra=("--expires", "2s"))
    assert wz.ctl("adv-a12", "ack", aid, "read").rc == 0
    expires = _wait_expired(wz, aid)
    # Straight away, whether or not the sweep has run yet.
    st = _raw_status(wz, aid)
    assert st["lifecycle"] == wp.LIFE_EXPIRED, st
    assert st["ended_at"] == expires and "cancelled_by" not in st, st

    r = wz.ctl("desk-a", "status", aid)
    assert r.rc == 0, r
    assert re.search(r"^expired at %s: no longer live" % TIME_RX,
                     r.out.splitlines()[1]), r
    r = wz.ctl("desk-a", "pending", aid)
    assert r.rc == 0 and _pending_lines(r.out) == [], r
    assert re.search(r"alert %s expired at %s: no longer live, nobody is "
                     r"awaited \(2 of 3 had not read by then\)"
                     % (re.escape(aid), TIME_RX), r.out), r
    t0 = time.monotonic()
    r = wz.ctl("desk-a", "watch", aid, timeout=15)
    assert time.monotonic() - t0 < 5, r
    assert r.rc == 1 and "%s expired at" % aid in r.err, r

    # After the sweep has dropped it from the cache: the same.
    harness.wait_for(lambda: aid not in wz.redis.zrange("live"), 15,
                     "the sweep to retire the expired alert")
    assert _raw_status(wz, aid)["lifecycle"] == wp.LIFE_EXPIRED


def test_watch_running_when_cancelled_says_so(wz):
    aid, _, _ = wz.publish("desk-a", TARGET)
    out = os.path.join(wz.dir, "watch-%s.out" % aid)
    err = os.path.join(wz.dir, "watch-%s.err" % aid)
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = subprocess.Popen([harness.binary("wuzhactl"), "-c",
                                 wz.client_conf("desk-a"), "watch", aid],
                                stdout=fo, stderr=fe,
                                stdin=subprocess.DEVNULL)
    try:
        harness.wait_for(lambda: "0 of 3 have read" in open(out).read(), 10,
                         "the first table")
        cid = _cancel(wz, aid)
        rc = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    text, errs = open(out).read(), open(err).read()
    assert rc == 1, (text, errs)
    # The last table pushed says how it ended; the watch ends at once.
    assert re.search(r"^cancelled by %s at %s: no longer live"
                     % (re.escape(cid), TIME_RX), text, re.M), text
    assert "%s cancelled by %s at" % (aid, cid) in errs, errs


def test_watch_with_acks_racing_the_cancel_ends_on_the_cancel(wz):
    """
    Acks keep a watch refreshing while the cancel lands: a refresh that
    read Redis just before the cancel still says live, and must not be the
    last word.  The last STATUS before the ERROR 308 says cancelled, and
    the error names the cancel.  This does not reproduce the race at
    will (it passed on the code before the fix in three runs too); it
    holds the invariant whenever the timing does hit it.
    """
    agents = [wz.session(cn)[0] for cn in RECEIVERS]
    try:
        for _ in range(3):
            aid, _, _ = wz.publish("desk-a", TARGET)
            fs, _ = wz.session("desk-a", role=wp.ROLE_CONSOLE)
            try:
                fs.send_raw(wp.encode(wp.STATUS_REQ, id=aid, flags=0x02))
                assert "lifecycle" not in fs.expect(wp.STATUS)
                cancel = subprocess.Popen(
                    [harness.binary("wuzhactl"), "-c",
                     wz.client_conf("desk-a"), "publish", "--target", TARGET,
                     "--headline", "取消", "--type", "cancel",
                     "--references", aid],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    stdin=subprocess.DEVNULL)

                def acks():
                    for state in (wp.ACK_DELIVERED, wp.ACK_READ,
                                  wp.ACK_RELAYED):
                        for a in agents:
                            a.send_raw(wp.encode(wp.ACK, id=aid, state=state,
                                                 reach=0))
                            time.sleep(0.02)
                th = threading.Thread(target=acks)
                th.start()
                out, errs = cancel.communicate(timeout=30)
                th.join(timeout=10)
                assert cancel.returncode == 0, errs
                cid = harness.PUBLISHED_RX.search(out.decode()).group(1)
                last = None
                while True:
                    t, m = fs.recv(10)
                    if t == wp.STATUS:
                        last = m
                    elif t == wp.ERROR:
                        break
                assert m["code"] == 308 and m.get("ref") == aid, m
                assert "cancelled by %s" % cid in m["text"], m
                assert last is not None, "no last STATUS before the 308"
                assert last.get("lifecycle") == wp.LIFE_CANCELLED, last
                assert last.get("cancelled_by") == cid, last
            finally:
                fs.close()
    finally:
        for a in agents:
            a.close()


if __name__ == "__main__":
    raise SystemExit(__import__("pytest").main([__file__, "-v"]))
