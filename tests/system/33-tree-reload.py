# SPDX-License-Identifier: ISC
"""
33-tree-reload: wuzhad follows a new tree generation by applying its
diff in place, or by a full load read in slices, and either way ends with
the tree a fresh start reads; connections of principals that moved or
left are treated as on a swap; a reload in the middle of a fan-out loses
no alert and no count; a tree of 50,000 nodes reloads while a session's
PINGs keep being answered promptly, and the log shows the slices.
"""

import json
import re
import signal
import subprocess
import threading
import time

import pytest

import harness
import wuzha_proto as wp


def changed_tree():
    """The demo tree with a department moved to the other school, a class
    and its advisor gone, a class and an advisor new, an advisor moved, a
    school renamed and a liaison given observe."""
    t = harness.demo_tree()
    t.nodes = [n for n in t.nodes if n["id"] != "school-b-d2-c2"]
    t.principals = [p for p in t.principals if p["cn"] != "adv-b22"]
    for n in t.nodes:
        if n["id"] == "school-a-d2":
            n["parent"] = "school-b"
        if n["id"] == "school-a":
            n["name"] = "学校A（新名）"
    t.node("school-a-d1-c3", "class", "school-a-d1")
    t.principal("adv-a13", "school-a-d1-c3", "receive")
    for p in t.principals:
        if p["cn"] == "adv-a12":
            p["node"] = "school-a-d1-c1"
        if p["cn"] == "liaison-a1":
            p["rights"] = ["receive", "observe"]
    return t


def _preorder(tree, nid):
    kids = sorted(n["id"] for n in tree.nodes if n["parent"] == nid)
    out = [nid]
    for k in kids:
        out += _preorder(tree, k)
    return out


def _view(env, tree):
    """What wuzhad's tree says: per node of a fresh alert at the root,
    in the order shown, the receivers targeted; and who sits where."""
    aid, _, targeted = env.publish("officer-li", "jn-police")
    assert targeted == len(tree.receivers("jn-police"))
    r = env.ctl("officer-li", "status", aid, "--json")
    assert r.rc == 0, r
    rows = [(n["node"], n["targeted"]) for line in r.out.splitlines()
            for n in json.loads(line)["nodes"]]
    r = env.ctl("officer-li", "agents", "--json")
    assert r.rc == 0, r
    doc = json.loads(r.out)
    who = sorted((p["cn"], p.get("node"), tuple(p.get("rights") or ()))
                 for p in doc["principals"])
    assert doc["total"] == len(tree.principals) == len(who), doc
    return rows, who


def _closed(fs, timeout=10.0):
    """Wait until the server ends the session; the ERROR it sent, if any."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            t, msg = fs.recv(timeout=end - time.monotonic())
        except Exception:       # closed: EOF or reset
            return None
        if t == wp.ERROR:
            return msg
    raise AssertionError("the session was not closed")


def _pong(fs, nonce):
    fs.send_raw(wp.ping(nonce))
    while True:
        t, msg = fs.recv(timeout=10)
        if t == wp.PONG:
            return


def test_diff_and_full_reload_give_the_tree_of_a_fresh_start(env):
    env.setup(certs=["officer-li", "adv-a21", "adv-b11"])
    gen = int(env.redis.get("tree-gen"))
    moved, stays = env.session("adv-a21")[0], env.session("adv-b11")[0]
    new = changed_tree()
    env.set_tree(new)
    mark = len(env.daemon.log())
    env.import_tree()
    env.daemon.wait_log(r"tree: generation %d: 15 nodes, 15 principals "
                        r"\(a diff of \d+\)" % (gen + 1), timeout=15,
                        start=mark)
    # Its department moved: its certificate no longer says where it is.
    err = _closed(moved)
    assert err is None or err.get("code") == 200, err
    _pong(stays, 1)
    stays.close()
    by_diff = _view(env, new)
    mark = len(env.daemon.log())
    env.daemon.proc.send_signal(signal.SIGHUP)
    env.daemon.wait_log(r"tree: generation %d: 15 nodes, 15 principals "
                        r"\(a full load\)" % (gen + 1), timeout=15, start=mark)
    by_full = _view(env, new)
    env.stop_daemon()
    env.start_daemon()
    fresh = _view(env, new)
    assert by_diff == fresh
    assert by_full == fresh
    # And that is the tree of the file: children by id, counts of each.
    assert fresh[0] == [(n, len(new.receivers(n)))
                        for n in _preorder(new, "jn-police")]
    assert dict(fresh[0])["school-b"] == 9


def _province(cities):
    t = harness.Tree()
    t.node("sd", "police", name="省公安厅")
    t.principal("prov-officer", "sd", "issue", "observe")
    for city in cities:
        t.node(city, "police", "sd", name=city + "市公安局")
        school = t.node(city + "-s0", "school", city)
        dept = t.node(school + "-d0", "department", school)
        for c in range(2):
            cls = t.node("%s-c%d" % (dept, c), "class", dept)
            t.principal("adv-%s-%d" % (city, c), cls, "receive")
    return t


def _targeted(env, tree, root="sd"):
    aid, _, targeted = env.publish("prov-officer", root)
    r = env.ctl("prov-officer", "status", aid, "--depth", "all", "--json")
    assert r.rc == 0, r
    rows = {n["node"]: n["targeted"] for line in r.out.splitlines()
            for n in json.loads(line)["nodes"]}
    assert rows == {n["id"]: len(tree.receivers(n["id"]))
                    for n in tree.nodes}, rows
    return targeted


def test_a_province_follows_diffs_and_a_new_city_by_a_full_load(private_env):
    env = private_env
    tree = _province(["jn", "qd"])
    env.setup(tree=tree, log_level="info")
    assert _targeted(env, tree) == 4
    gen = int(env.redis.get("tree-gen"))
    # A class below a city under the province: the diff applies.
    tree.node("jn-s0-d0-c9", "class", "jn-s0-d0")
    tree.principal("adv-jn-9", "jn-s0-d0-c9", "receive")
    env.set_tree(tree)
    mark = len(env.daemon.log())
    env.import_tree()
    env.daemon.wait_log(r"generation %d: \d+ nodes, \d+ principals "
                        r"\(a diff of \d+\)" % (gen + 1), timeout=15,
                        start=mark)
    assert _targeted(env, tree) == 5
    # A city renamed, the province renamed: still a diff.
    for n in tree.nodes:
        if n["id"] in ("sd", "qd"):
            n["name"] += "（新）"
    env.set_tree(tree)
    mark = len(env.daemon.log())
    env.import_tree()
    env.daemon.wait_log(r"generation %d: .*\(a diff of \d+\)" % (gen + 2),
                        timeout=15, start=mark)
    # A new city under the province: its nesting is checked by a full load.
    tree.node("yt", "police", "sd", name="yt市公安局")
    tree.node("yt-s0", "school", "yt")
    tree.node("yt-s0-d0", "department", "yt-s0")
    tree.node("yt-s0-d0-c0", "class", "yt-s0-d0")
    tree.principal("adv-yt-0", "yt-s0-d0-c0", "receive")
    env.set_tree(tree)
    mark = len(env.daemon.log())
    env.import_tree()
    env.daemon.wait_log(r"generation %d: \d+ nodes, \d+ principals "
                        r"\(a full load\)" % (gen + 3), timeout=15,
                        start=mark)
    assert "comes under sd, which only a full load checks" in \
        env.daemon.log()[mark:]
    assert _targeted(env, tree) == 6


def _wide_tree(schools, depts, classes, agents=0, prefix="w"):
    t = harness.Tree()
    t.node("jn-police", "police")
    t.principal("officer-li", "jn-police", "issue", "observe")
    leaves = []
    for s in range(schools):
        sch = t.node("s%03d" % s, "school", "jn-police")
        for d in range(depts):
            dept = t.node("%s-d%02d" % (sch, d), "department", sch)
            for c in range(classes):
                leaves.append(t.node("%s-c%03d" % (dept, c), "class", dept,
                                     name="班级 %d" % c))
    for i in range(agents):
        t.principal("%s-%05d" % (prefix, i), leaves[i % len(leaves)],
                    "receive")
    return t, leaves


AGENTS = 300


def test_a_reload_in_the_middle_of_a_fan_out_loses_nothing(private_env):
    env = private_env
    tree, _ = _wide_tree(3, 4, 5, AGENTS, prefix="fo")
    env.setup(tree=tree, certs=["officer-li"], log_level="info",
              timeouts={"heartbeat": "60s", "idle": "180s"})
    swarm = env.start_swarm("fo-%05d", AGENTS, timeout=280)
    swarm.wait_ready(timeout=90)
    swarm.wait_report(lambda r: r["connected"] == AGENTS, 60,
                      "all agents connected")
    conf = env.client_conf("officer-li")
    published = []
    for rnd in range(8):
        aid = env.new_id("fo%02d" % rnd)
        pub = subprocess.Popen(
            [harness.binary("wuzhactl"), "-c", conf, "publish", "--target",
             "jn-police", "--headline", "第%d轮" % rnd, "--id", aid],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=env.dir)
        # A class added somewhere else each round: a diff, or (every
        # other round) SIGHUP on top, a full load, while the alert fans out.
        tree.node("s000-d00-x%02d" % rnd, "class", "s000-d00")
        env.set_tree(tree)
        env.import_tree()
        if rnd % 2:
            env.daemon.proc.send_signal(signal.SIGHUP)
        out, err = pub.communicate(timeout=harness.CMD_TIMEOUT)
        assert pub.returncode == 0, err
        m = harness.PUBLISHED_RX.search(out.decode())
        assert m and int(m.group(3)) == AGENTS, out
        published.append(aid)
    swarm.expect(published)
    last = swarm.wait_report(
        lambda r: r["with_all"] == AGENTS and r["connected"] == AGENTS, 120,
        "every agent to show every alert")
    assert last["shown_twice"] == 0 and last["failed"] == 0, last
    harness.wait_for(lambda: all(len(env.acks(a)) == AGENTS
                                 for a in published), 60,
                     "ack:{id} to hold every agent", interval=0.5)
    for aid in published:
        env.assert_rate_matches_acks(aid, "jn-police")
    log = env.daemon.log()
    assert "(a diff of" in log and "(a full load)" in log
    rc, summary = swarm.quit()
    assert rc == 0 and summary["ok"], summary


class Pinger(threading.Thread):
    """A session pinging every 10 ms; the slowest round trip seen."""

    def __init__(self, fs):
        super().__init__(daemon=True)
        self.fs, self.worst, self.count, self.error = fs, 0.0, 0, None
        self.halt = threading.Event()

    def run(self):
        try:
            while not self.halt.is_set():
                t0 = time.monotonic()
                _pong(self.fs, self.count + 1)
                self.worst = max(self.worst, time.monotonic() - t0)
                self.count += 1
                time.sleep(0.01)
        except Exception as ex:     # reported by the test
            self.error = ex


def test_a_big_tree_reloads_in_slices_and_pings_stay_fast(env):
    tree, leaves = _wide_tree(20, 10, 249)
    for i, leaf in enumerate(leaves):
        tree.principal("b-%05d" % i, leaf, "receive")
    assert len(tree.nodes) == 50021
    env.setup(tree=tree, certs=["officer-li"], log_level="info")
    m = re.search(r"tree: generation \d+: 50021 nodes, 49801 principals "
                  r"\(a full load\) in \d+ ms: (\d+) Redis calls?, (\d+) "
                  r"slices?", env.daemon.log())
    assert m and int(m.group(1)) > 50 and int(m.group(2)) > 50, \
        env.daemon.tail()
    fs, _ = env.session("officer-li", role=wp.ROLE_CONSOLE)
    p = Pinger(fs)
    p.start()
    try:
        time.sleep(0.5)
        tree.node("s000-d00-new", "class", "s000-d00")
        tree.principal("b-new", "s000-d00-new", "receive")
        env.set_tree(tree)
        mark = len(env.daemon.log())
        env.import_tree()
        env.daemon.wait_log(r"50022 nodes, 49802 principals \(a diff of 2\)",
                            timeout=30, start=mark)
        mark = len(env.daemon.log())
        env.daemon.proc.send_signal(signal.SIGHUP)
        m = env.daemon.wait_log(r"50022 nodes, 49802 principals \(a full "
                                r"load\) in \d+ ms: \d+ Redis calls?, (\d+) "
                                r"slices?, the longest ([\d.]+) ms",
                                timeout=60, start=mark)
        time.sleep(0.5)
    finally:
        p.halt.set()
        p.join(10)
        fs.close()
    print("pings %d, slowest %.1f ms; full reload: %s slices, longest %s ms"
          % (p.count, p.worst * 1000, m.group(1), m.group(2)))
    assert p.error is None, p.error
    assert p.count > 20
    assert p.worst < 0.2, p.worst
    assert float(m.group(2)) < 50


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
