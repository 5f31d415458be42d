# SPDX-License-Identifier: ISC
"""
21-agents: `wuzhactl agents` shows a desk, before it sends anything, who
below its node has an agent connected (and since when), whose agent went
away lately, and who has not been seen for longer than --unseen, or
never: from wuzhad's own connections and the `seen` times it notes in
Redis as agents come and go.  Only observers may ask, and only about
their own subtree.
"""

import json
import time

import pytest

import harness

SCHOOL_A = ["desk-a", "liaison-a1", "liaison-a2", "adv-a11", "adv-a12",
            "adv-a21", "adv-a22"]
RUNNING = ["desk-a", "adv-a11", "adv-a12", "adv-a21"]


def _agents(wz, cn, *args):
    r = wz.ctl(cn, "agents", "--json", *args)
    assert r.rc == 0, r
    return json.loads(r.out)


def _by_cn(out):
    return {p["cn"]: p for p in out["principals"]}


def test_agents_shows_who_is_reachable_before_sending(wz):
    t0 = int(time.time() * 1000)
    agents = {cn: wz.start_agent(cn) for cn in RUNNING}
    for a in agents.values():
        a.proc.wait_log(r"welcome principal", timeout=15)

    out = _agents(wz, "desk-a", "--node", "school-a")
    assert out["node"] == "school-a"
    assert abs(out["server_time"] - time.time() * 1000) < 60000
    assert out["unseen_ms"] == 24 * 3600 * 1000
    assert [p["cn"] for p in out["principals"]] == [
        "desk-a", "liaison-a1", "adv-a11", "adv-a12", "liaison-a2",
        "adv-a21", "adv-a22"], "pre-order by node, then by cn"
    rows = _by_cn(out)
    for cn in RUNNING:
        assert rows[cn]["state"] == "online", rows[cn]
        assert rows[cn]["online"] == 1
        assert t0 - 1000 <= rows[cn]["since"] <= out["server_time"]
        assert rows[cn]["last_seen"] == rows[cn]["since"], rows[cn]
    for cn in ("liaison-a1", "liaison-a2", "adv-a22"):
        assert rows[cn]["state"] == "unreachable", rows[cn]
        assert rows[cn]["online"] == 0 and rows[cn]["last_seen"] == 0
    assert rows["desk-a"]["rights"] == ["receive", "issue", "observe"]
    assert rows["adv-a11"]["node"] == "school-a-d1-c1"
    assert out["counts"] == {"online": 4, "away": 0, "unreachable": 3,
                             "console": 0}
    assert out["omitted"] == 0

    # The table, and its summary line.
    r = wz.ctl("desk-a", "agents")
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0].split()[:4] == ["CN", "NODE", "RIGHTS", "STATE"]
    assert lines[-1] == "4 online, 0 away, 3 unreachable (not seen for 24h)"
    line = [l for l in lines if l.startswith("adv-a22 ")][0]
    assert line.split()[3:] == ["unreachable", "never"], line
    line = [l for l in lines if l.startswith("adv-a11 ")][0]
    assert line.split()[3:5] == ["online", "since"], line
    assert "\x1b[" not in r.out

    # One goes away: away, with the time it left, noted in Redis too.
    before_stop = int(time.time() * 1000)
    agents["adv-a21"].stop()
    seen = harness.wait_for(
        lambda: (lambda v: int(v) if v and int(v) >= before_stop else None)(
            wz.redis.hget_raw("seen", "adv-a21")), 10,
        "adv-a21's departure in seen")
    rows = _by_cn(_agents(wz, "desk-a"))
    assert rows["adv-a21"]["state"] == "away", rows["adv-a21"]
    assert rows["adv-a21"]["online"] == 0
    assert rows["adv-a21"]["last_seen"] == seen
    assert seen - before_stop < 10000
    # ... and unreachable once it has been away longer than --unseen.
    harness.wait_for(lambda: time.time() * 1000 > seen + 1500, 5, "1.5 s")
    out = _agents(wz, "desk-a", "--unseen", "1s")
    assert _by_cn(out)["adv-a21"]["state"] == "unreachable"
    assert out["unseen_ms"] == 1000
    assert out["counts"]["unreachable"] == 4
    r = wz.ctl("desk-a", "agents", "--unseen", "1s")
    assert r.out.splitlines()[-1] == \
        "3 online, 0 away, 4 unreachable (not seen for 1s)", r.out


def test_the_officer_sees_every_school_and_consoles_apart(wz):
    wz.start_agent("adv-b11").proc.wait_log(r"welcome principal",
                                            timeout=15)
    out = _agents(wz, "officer-li")
    assert out["node"] == "jn-police"
    rows = _by_cn(out)
    assert rows["officer-li"]["state"] == "console"
    assert rows["officer-li"]["rights"] == ["issue", "observe"]
    assert rows["adv-b11"]["state"] == "online"
    assert out["counts"]["console"] == 1
    assert out["counts"]["online"] == 1
    assert len(rows) == 15, sorted(rows)
    out = _agents(wz, "officer-li", "--node", "school-b-d1")
    assert [p["cn"] for p in out["principals"]] == [
        "liaison-b1", "adv-b11", "adv-b12"]


def test_agents_refusals(wz):
    r = wz.ctl("desk-a", "agents", "--node", "school-b")
    assert r.rc == 1 and "forbidden (201)" in r.err, r
    assert "may not observe school-b" in r.err, r
    r = wz.ctl("desk-a", "agents", "--node", "no-such-node")
    assert r.rc == 1 and "unknown-node (304)" in r.err, r
    r = wz.ctl("adv-a11", "agents")
    assert r.rc == 1 and "forbidden (201)" in r.err, r
    r = wz.ctl("desk-a", "agents", "--unseen", "soon")
    assert r.rc == 2 and "--unseen soon" in r.err, r
    r = wz.ctl("desk-a", "agents", "--node", "Bad_Node")
    assert r.rc == 2 and "not a node id" in r.err, r


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
