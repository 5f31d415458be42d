# SPDX-License-Identifier: ISC
"""
35-shown: the acknowledgement state shown (wire value 4: a person had the
alert on screen, not confirmed).  It ranks between delivered and read:
counted cumulatively in status, watch, report and /metrics; a shown after
read is answered with the state stored and changes nothing; an ack
record from before shown (no t4) still parses; and a principal at shown
has not read, so it is still reminded and escalated, its state named.

The agents here are protocol sessions, not wuzha-agent, so that which
acks are sent is up to the test alone.
"""

import csv
import datetime
import http.client
import io
import json
import re
import time

import wuzha_proto as wp

TARGET = "school-a-d1"
MEMBERS = ("liaison-a1", "adv-a11", "adv-a12")   # its receivers


def _sessions(env, cns=MEMBERS):
    return {cn: env.session(cn)[0] for cn in cns}


def _close(sessions):
    for fs in sessions.values():
        fs.close()


def _recv_alert(fs, aid):
    while True:
        t, m = fs.recv(10)
        if t == wp.ALERT and aid.encode() in m["envelope"]:
            return m


def _ack(fs, aid, state):
    """ACK state; the answer: ("ok", state stored) or ("error", code)."""
    fs.send_raw(wp.ack(aid, state))
    while True:
        t, m = fs.recv(10)
        if t == wp.ACK_OK and m["id"] == aid:
            return "ok", m["state"]
        if t == wp.ERROR and m.get("ref") == aid:
            return "error", m["code"]


def _root(env, aid):
    r = env.ctl("desk-a", "status", aid, "--json")
    assert r.rc == 0, r
    return json.loads(r.out)["nodes"][0]


def _counts(node):
    return {k: node.get(k, 0) for k in ("delivered", "shown", "read",
                                         "relayed")}


def _record(env, aid, cn):
    """ack:{id}[cn] split at its colons."""
    return env.redis.hgetall("ack:" + aid)[cn].split(":")


def _watch_until(fs, aid, pred, timeout=10):
    """STATUS pushes of a watch until pred(root node) holds."""
    deadline = time.monotonic() + timeout
    while True:
        t, m = fs.recv(max(0.1, deadline - time.monotonic()))
        if t == wp.STATUS and m["id"] == aid and pred(m["nodes"][0]):
            return m["nodes"][0]


def _metrics_port(env):
    m = env.daemon.wait_log(r"metrics on http://127\.0\.0\.1:(\d+)/metrics",
                            timeout=10)
    return int(m.group(1))


def _shown_metric(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", "/metrics")
        body = c.getresponse().read().decode()
    finally:
        c.close()
    m = re.search(r'^wuzha_acks_stored_total\{state="shown"\} (\d+)$', body,
                  re.M)
    assert m, body
    return int(m.group(1))


def test_shown_ranks_between_delivered_and_read_and_counts_cumulatively(wz):
    port = _metrics_port(wz)
    metric0 = _shown_metric(port)
    agents = _sessions(wz)
    watch, _ = wz.session("desk-a", role=wp.ROLE_CONSOLE)
    try:
        aid, _, targeted = wz.publish("officer-li", TARGET)
        assert targeted == 3
        for fs in agents.values():
            _recv_alert(fs, aid)

        # Delivered is not shown.
        assert _ack(agents["adv-a11"], aid, wp.ACK_DELIVERED) == \
            ("ok", wp.ACK_DELIVERED)
        assert _counts(_root(wz, aid)) == \
            {"delivered": 1, "shown": 0, "read": 0, "relayed": 0}
        watch.send_raw(wp.encode(wp.STATUS_REQ, id=aid, flags=wp.SF_WATCH))
        first = _watch_until(watch, aid, lambda n: True)
        assert first["delivered"] == 1 and "shown" not in first, first

        # Shown: counted, pushed to the watch, its time kept as t4.
        assert _ack(agents["adv-a11"], aid, wp.ACK_SHOWN) == \
            ("ok", wp.ACK_SHOWN)
        pushed = _watch_until(watch, aid, lambda n: n.get("shown") == 1)
        assert _counts(pushed) == \
            {"delivered": 1, "shown": 1, "read": 0, "relayed": 0}
        assert _counts(_root(wz, aid)) == _counts(pushed)
        rec = _record(wz, aid, "adv-a11")
        assert rec[0] == "4" and len(rec) == 7, rec
        assert int(rec[3]) > 0 and int(rec[6]) > 0 and rec[4] == "0", rec
        assert wz.acks(aid)["adv-a11"][0] == wp.ACK_SHOWN

        # The table has a SHOWN column between DELIVERED and READ.
        r = wz.ctl("desk-a", "status", aid)
        assert r.rc == 0, r
        head = r.out.splitlines()[1].split()
        assert head.index("DELIVERED") < head.index("SHOWN") < \
            head.index("READ"), r.out
        row = r.out.splitlines()[2].split()
        # From the end: TARGETED DELIVERED % SHOWN % READ % RELAYED % REACH
        assert row[0] == TARGET and row[-10:-5] == \
            ["3", "1", "33.3%", "1", "33.3%"], r.out

        # Shown has not read: pending lists it, with its state.
        r = wz.ctl("desk-a", "pending", aid)
        assert r.rc == 0, r
        lines = {ln.split()[0]: ln.split() for ln in r.out.splitlines()[:-1]}
        assert lines["adv-a11"][1] == "shown", r.out
        assert r.out.splitlines()[-1].startswith("3 of 3 have not read"), r
        doc = json.loads(wz.ctl("desk-a", "pending", aid, "--json").out)
        assert {p["cn"]: p["state"] for p in doc["pending"]}["adv-a11"] == \
            "shown", doc

        # Read: read counted, shown stays counted (at least shown).
        r = wz.ctl("adv-a11", "ack", aid, "read")
        assert r.rc == 0 and r.out.strip() == aid + ": read", r
        pushed = _watch_until(watch, aid, lambda n: n["read"] == 1)
        assert _counts(pushed) == \
            {"delivered": 1, "shown": 1, "read": 1, "relayed": 0}
        rec = _record(wz, aid, "adv-a11")
        shown_at = rec[6]
        assert rec[0] == "2" and int(rec[4]) >= int(shown_at) > 0, rec

        # Shown after read: ACK_OK with the state stored, nothing moves.
        before = (wz.rate(aid), wz.redis.hgetall("ack:" + aid))
        assert _ack(agents["adv-a11"], aid, wp.ACK_SHOWN) == \
            ("ok", wp.ACK_READ)
        assert _ack(agents["adv-a11"], aid, wp.ACK_DELIVERED) == \
            ("ok", wp.ACK_READ)
        r = wz.ctl("adv-a11", "ack", aid, "shown")
        assert r.rc == 0 and r.out.strip() == aid + ": read", r
        assert (wz.rate(aid), wz.redis.hgetall("ack:" + aid)) == before
        assert _counts(_root(wz, aid)) == \
            {"delivered": 1, "shown": 1, "read": 1, "relayed": 0}

        # Read straight from nothing passes shown: all three counted, at
        # one time.
        assert _ack(agents["adv-a12"], aid, wp.ACK_READ) == \
            ("ok", wp.ACK_READ)
        rec = _record(wz, aid, "adv-a12")
        assert rec[3] == rec[4] == rec[6] != "0" and rec[5] == "0", rec
        assert _counts(_root(wz, aid)) == \
            {"delivered": 2, "shown": 2, "read": 2, "relayed": 0}

        # Relayed, then shown: the stored state; read after relayed is
        # still a step back (401).
        assert _ack(agents["adv-a12"], aid, wp.ACK_RELAYED) == \
            ("ok", wp.ACK_RELAYED)
        assert _ack(agents["adv-a12"], aid, wp.ACK_SHOWN) == \
            ("ok", wp.ACK_RELAYED)
        assert _ack(agents["adv-a12"], aid, wp.ACK_READ) == \
            ("error", wp.E_BACKWARDS)
        wz.assert_rate_matches_acks(aid, TARGET)
        for node in ("school-a-d1", "school-a-d1-c1", "school-a-d1-c2"):
            assert wz.rate(aid).get(node, {}).get("shown", 0) == \
                wz.rate(aid)[node]["read"], node

        # /metrics: one shown ack stored (the others were not stored).
        assert _shown_metric(port) - metric0 == 1
    finally:
        watch.close()
        _close(agents)


def test_an_ack_record_from_before_shown_still_parses(wz):
    """A record "state:at:reach:t1:t2:t3" without t4 reads as t4 = 0."""
    aid, _, _ = wz.publish("officer-li", TARGET)
    now = wp.now_ms()
    wz.redis.cmd("HSET", wz.redis.k("ack:" + aid), "adv-a11",
                 "2:%d::%d:%d:0" % (now, now - 5, now))
    fs, _ = wz.session("adv-a11")
    try:
        # Sent before shown existed, read: a shown now changes nothing.
        assert _ack(fs, aid, wp.ACK_SHOWN) == ("ok", wp.ACK_READ)
        assert wz.redis.hgetall("ack:" + aid)["adv-a11"] == \
            "2:%d::%d:%d:0" % (now, now - 5, now)
        assert _ack(fs, aid, wp.ACK_RELAYED) == ("ok", wp.ACK_RELAYED)
    finally:
        fs.close()
    rec = _record(wz, aid, "adv-a11")
    assert rec[0] == "3" and rec[3:5] == [str(now - 5), str(now)], rec
    assert int(rec[5]) > 0 and rec[6] == "0" and len(rec) == 7, rec
    # The report reads it: read and relayed in time, no shown time.
    frm = _utc(now - 60000)
    to = _utc(wp.now_ms() + 60000)
    row = _report_row(wz, frm, to, "school-a-d1-c1")
    assert row["read_in_time"] == 1 and row["relayed_in_time"] == 1, row
    assert row["shown_in_time"] == 0, row


def _utc(ms):
    return datetime.datetime.fromtimestamp(
        ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _report_row(env, frm, to, node):
    r = env.ctl("officer-li", "report", "--node", TARGET, "--from", frm,
                "--to", to, "--json")
    assert r.rc == 0, r
    return {w["node"]: w for w in json.loads(r.out)["rows"]}[node]


def test_report_counts_shown(wz):
    start = wp.now_ms() - 2000
    agents = _sessions(wz)
    try:
        aid, _, _ = wz.publish("officer-li", TARGET)
        for fs in agents.values():
            _recv_alert(fs, aid)
        assert _ack(agents["liaison-a1"], aid, wp.ACK_DELIVERED)[0] == "ok"
        assert _ack(agents["adv-a11"], aid, wp.ACK_SHOWN)[0] == "ok"
        assert _ack(agents["adv-a12"], aid, wp.ACK_SHOWN)[0] == "ok"
        assert _ack(agents["adv-a12"], aid, wp.ACK_READ)[0] == "ok"
    finally:
        _close(agents)
    frm, to = _utc(start), _utc(wp.now_ms() + 60000)
    r = wz.ctl("officer-li", "report", "--node", TARGET, "--from", frm,
               "--to", to, "--json")
    assert r.rc == 0, r
    rows = {w["node"]: w for w in json.loads(r.out)["rows"]}
    top = rows[TARGET]
    assert (top["targeted"], top["delivered"], top["shown"], top["read"],
            top["relayed"]) == (3, 3, 2, 1, 0), top
    assert top["shown_in_time"] == 2 and top["drill_shown"] == 0, top
    assert rows["school-a-d1-c1"]["shown"] == 1
    assert rows["school-a-d1-c2"]["shown"] == 1
    # The report's shown agrees with what status shows.
    assert top["shown"] == _root(wz, aid)["shown"]
    # CSV: the shown columns come last, after the ones there were.
    r = wz.ctl("officer-li", "report", "--node", TARGET, "--from", frm,
               "--to", to, "--csv")
    assert r.rc == 0, r
    head = r.out.splitlines()[0].split(",")
    assert head[-5:] == ["shown", "shown_in_time", "shown_pct",
                         "shown_in_time_pct", "drill_shown"], head
    assert head.index("drill_read_pct") == len(head) - 6, head
    line = next(ln for ln in csv.DictReader(io.StringIO(r.out, newline=""))
                if ln["node"] == TARGET)
    assert line["shown"] == "2" and line["shown_pct"] == "66.7", line
    # The table: a SHOWN share between DELIVERED and READ.
    r = wz.ctl("officer-li", "report", "--node", TARGET, "--from", frm,
               "--to", to)
    assert r.rc == 0, r
    head = r.out.splitlines()[1]
    assert head.index("DELIVERED") < head.index("SHOWN") < \
        head.index(" READ "), r.out
    assert "66.7%" in r.out.splitlines()[2], r.out


def test_shown_is_not_read_reminded_and_escalated_with_its_state(env):
    env.setup(delivery={"remind_after": "1s", "max_reminders": 1,
                        "escalate_after": "2500ms"})
    desk, welcome = env.session("desk-a")
    assert welcome["node"] == "school-a"
    agents = _sessions(env, ("adv-a11", "adv-a12"))
    try:
        aid, _, _ = env.publish("officer-li", TARGET)
        for fs in agents.values():
            _recv_alert(fs, aid)
        assert _ack(agents["adv-a11"], aid, wp.ACK_SHOWN) == \
            ("ok", wp.ACK_SHOWN)
        assert _ack(agents["adv-a12"], aid, wp.ACK_READ) == \
            ("ok", wp.ACK_READ)
        # The reminder goes to adv-a11 (shown), not to adv-a12 (read).
        m = _recv_alert(agents["adv-a11"], aid)
        assert m["flags"] & 0x01, m       # REMINDER
        # The escalation names adv-a11 as shown, liaison-a1 as none, and
        # not adv-a12.
        deadline = time.monotonic() + 10
        while True:
            t, msg = desk.recv(max(0.1, deadline - time.monotonic()))
            if t == wp.ESCALATION and msg["id"] == aid:
                break
        assert msg["node"] == "school-a", msg
        assert sorted((x["cn"], x["state"]) for x in msg["members"]) == [
            ("adv-a11", wp.ACK_SHOWN), ("liaison-a1", wp.ACK_NONE)], msg
        # adv-a12 had no reminder.
        try:
            while True:
                t, m = agents["adv-a12"].recv(0.5)
                assert t != wp.ALERT, m
        except TimeoutError:
            pass
    finally:
        desk.close()
        _close(agents)
    env.daemon.wait_log(r"alert %s: escalated to 1 connected observers at "
                        r"school-a: 2 not read" % aid, timeout=5)


if __name__ == "__main__":
    import pytest
    raise SystemExit(pytest.main([__file__, "-v"]))
