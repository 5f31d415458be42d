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
import os
import pty
import re
import select
import subprocess
import time

import pytest

import harness
import wuzha_proto as wp

RUNNING = ["desk-a", "adv-a11", "adv-a12", "adv-a21"]


def _agents(wz, cn, *args):
    r = wz.ctl(cn, "agents", "--json", *args)
    assert r.rc == 0, r
    return json.loads(r.out)


def _by_cn(out):
    return {p["cn"]: p for p in out["principals"]}


def _ctl_on_tty(wz, cn, *args):
    """wuzhactl with its stdout on a pseudo-terminal: (rc, output)."""
    master, slave = pty.openpty()
    environ = dict(os.environ, TERM="xterm")
    environ.pop("NO_COLOR", None)
    try:
        r = subprocess.run([harness.binary("wuzhactl"), "-c",
                            wz.client_conf(cn)] + list(args),
                           stdout=slave, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, env=environ,
                           timeout=harness.CMD_TIMEOUT, cwd=wz.dir)
        os.close(slave)
        slave = -1
        out = b""
        while select.select([master], [], [], 1.0)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:         # EIO: the terminal's last writer is gone
                break
            if not chunk:
                break
            out += chunk
    finally:
        if slave != -1:
            os.close(slave)
        os.close(master)
    return r.returncode, out.decode("utf-8", "replace").replace("\r\n", "\n")


def _state_column(lines):
    """Where the STATE column starts, checked to be the same on every row."""
    col = lines[0].index("STATE")
    for ln in lines[1:-1]:
        assert re.match(r"(online|away|unreachable|console)\b", ln[col:]), \
            (col, ln)
        assert ln[col - 1] == " ", ln
    return col


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
    # and which daemon its agent is on (the harness names it "wuzhad")
    assert re.search(r"since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ "
                     r"\(\d+s\) on wuzhad$", line), line
    assert len(lines) == 1 + 7 + 1, r.out
    _state_column(lines)
    assert "\x1b[" not in r.out, "plain when piped"

    # On a terminal the states are coloured, and the columns still line up.
    rc, out = _ctl_on_tty(wz, "desk-a", "agents", "--node", "school-a-d1")
    assert rc == 0, out
    assert "\x1b[32monline\x1b[0m" in out, out
    assert "\x1b[31munreachable\x1b[0m" in out, out
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out).splitlines()
    assert plain[-1] == "2 online, 0 away, 1 unreachable (not seen for 24h)"
    _state_column(plain)

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
    line = [l for l in r.out.splitlines() if l.startswith("adv-a21 ")][0]
    assert re.search(r" unreachable +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ "
                     r"\(\d+s ago\)$", line), line
    # Away within the default day, with the time it left.
    r = wz.ctl("desk-a", "agents")
    line = [l for l in r.out.splitlines() if l.startswith("adv-a21 ")][0]
    assert line.split()[3] == "away", line
    assert r.out.splitlines()[-1] == \
        "3 online, 1 away, 3 unreachable (not seen for 24h)", r.out


def test_a_tree_reload_keeps_who_is_online_and_since_when(wz):
    a = wz.start_agent("adv-a11")
    a.proc.wait_log(r"welcome principal", timeout=15)
    before = _by_cn(_agents(wz, "desk-a"))["adv-a11"]
    assert before["state"] == "online" and before["since"] > 0, before

    # A new class with its advisor: imported while adv-a11 stays connected.
    wz.tree.node("school-a-d1-c3", "class", "school-a-d1")
    wz.tree.principal("adv-a13", "school-a-d1-c3", "receive")
    wz.set_tree(wz.tree)
    mark = len(wz.daemon.log())
    wz.import_tree()
    wz.daemon.wait_log(r"tree: generation \d+: \d+ nodes, 16 principals",
                       timeout=15, start=mark)

    out = _agents(wz, "desk-a", "--node", "school-a-d1")
    assert [p["cn"] for p in out["principals"]] == [
        "liaison-a1", "adv-a11", "adv-a12", "adv-a13"]
    rows = _by_cn(out)
    assert rows["adv-a11"]["state"] == "online"
    assert rows["adv-a11"]["since"] == before["since"], (before, rows)
    assert rows["adv-a11"]["last_seen"] == before["last_seen"]
    assert rows["adv-a13"]["state"] == "unreachable"
    assert rows["adv-a13"]["last_seen"] == 0
    assert "disconnected" not in a.log(), a.log()


def test_a_console_is_not_an_agent(wz):
    # desk-b may receive, but only its console is connected as it asks.
    out = _agents(wz, "desk-b")
    rows = _by_cn(out)
    assert rows["desk-b"]["state"] == "unreachable", rows["desk-b"]
    assert rows["desk-b"]["online"] == 0 and rows["desk-b"]["last_seen"] == 0
    assert wz.redis.hget_raw("seen", "desk-b") is None
    assert out["counts"] == {"online": 0, "away": 0, "unreachable": 7,
                             "console": 0}


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
    assert "adv-a11 may not observe" in r.err, r
    r = wz.ctl("desk-a", "agents", "--unseen", "soon")
    assert r.rc == 2 and "--unseen soon" in r.err, r
    r = wz.ctl("desk-a", "agents", "--node", "Bad_Node")
    assert r.rc == 2 and "not a node id" in r.err, r
    r = wz.ctl("desk-a", "agents", "--no-such-option")
    assert r.rc == 2 and "bad option --no-such-option" in r.err, r
    r = wz.ctl("desk-a", "agents", "extra")
    assert r.rc == 2, r


def test_rows_past_the_frame_come_in_further_pages_all_counted(env):
    # Forty more advisors in one class do not fit in a 1 KiB answer: the
    # console asks page after page and lists and counts everyone.
    tree = harness.demo_tree()
    extra = ["adv-a22-x%02d" % i for i in range(40)]
    for cn in extra:
        tree.principal(cn, "school-a-d2-c2", "receive")
    env.setup(tree=tree, certs=["desk-a", "adv-a11"],
              limits={"max_frame": 1024, "max_text": 512})
    env.start_agent("adv-a11").proc.wait_log(r"welcome principal",
                                             timeout=15)
    order = ["desk-a", "liaison-a1", "adv-a11", "adv-a12", "liaison-a2",
             "adv-a21", "adv-a22"] + extra

    out = _agents(env, "desk-a")
    listed = [p["cn"] for p in out["principals"]]
    assert out["omitted"] == 0 and out["total"] == len(order), out
    assert listed == order, listed
    assert sum(out["counts"].values()) == len(listed), out["counts"]
    assert _by_cn(out)["adv-a11"]["state"] == "online"
    # One answer alone holds only the first page, and says so.
    fs, _ = env.session("desk-a", role=wp.ROLE_CONSOLE)
    try:
        fs.send_raw(wp.encode(wp.AGENTS_REQ))
        ag = fs.expect(wp.AGENTS)
        first = len(ag["principals"])
        assert 0 < first < len(order) and ag["total"] == len(order)
        assert ag["omitted"] == len(order) - first and ag["online"] == 1
        fs.send_raw(wp.encode(wp.AGENTS_REQ, offset=first))
        ag = fs.expect(wp.AGENTS)
        assert ag["offset"] == first
        assert [p["cn"] for p in ag["principals"]] == \
            order[first:first + len(ag["principals"])]
        # A page may start anywhere: in a node, between subtrees, past
        # the end; each starts where the whole list has that offset.
        for k in range(len(order) + 2):
            fs.send_raw(wp.encode(wp.AGENTS_REQ, **({"offset": k} if k
                                                     else {})))
            ag = fs.expect(wp.AGENTS)
            got = [p["cn"] for p in ag["principals"]]
            assert got == order[k:k + len(got)], (k, got)
            assert ag["total"] == len(order) and ag["online"] == 1, ag
            left = max(0, len(order) - k - len(got))
            assert ag.get("omitted", 0) == left, ag
            assert got or k >= len(order), k
    finally:
        fs.close()

    r = env.ctl("desk-a", "agents")
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[-1] == "1 online, 0 away, %d unreachable (not seen for " \
        "24h)" % (len(listed) - 1), r.out
    assert len(lines) == 1 + len(listed) + 1, r.out

    # A node further down fits whole.
    out = _agents(env, "desk-a", "--node", "school-a-d1")
    assert out["omitted"] == 0
    assert [p["cn"] for p in out["principals"]] == [
        "liaison-a1", "adv-a11", "adv-a12"]


def test_more_than_255_connections_of_one_principal_are_counted(env):
    # The count is a u32 on the wire: 300 agents of adv-a11 show as 300,
    # not as a byte's 255.
    env.setup()
    sessions = []
    try:
        for _ in range(300):
            fs, _ = env.session("adv-a11")
            sessions.append(fs)
        out = _agents(env, "desk-a", "--node", "school-a-d1-c1")
        assert _by_cn(out)["adv-a11"]["online"] == 300, out
        r = env.ctl("desk-a", "agents", "--node", "school-a-d1-c1")
        assert r.rc == 0 and "300 agents" in r.out, r
    finally:
        for fs in sessions:
            fs.close()


def test_agents_without_redis_is_refused_with_501(private_env):
    env = private_env
    env.setup()
    env.start_agent("adv-a11").proc.wait_log(r"welcome principal",
                                             timeout=15)
    assert _agents(env, "desk-a")["counts"]["online"] == 1
    env.redis_proc.stop()
    env.daemon.wait_log(r"redis: up -> down", timeout=10)
    r = env.ctl("desk-a", "agents")
    assert r.rc == 1, r
    assert r.error()[:2] == ("store-unavailable", 501), r
    assert "store unavailable, try again" in r.err, r
    assert r.out == "", r


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
