# SPDX-License-Identifier: ISC
"""
45-daemons: three wuzhad on one Redis, each with its own listener, 1,000
agents spread over them (swarm, each agent listing all three servers).

- An alert published through each daemon reaches all 1,000 agents, once.
- `agents` asked of any daemon counts all 1,000 online and names the
  daemon each one is on; `pending` marks online those on other daemons.
- A watch on one daemon moves with acks stored through the others.
- A held alert due while one daemon is down and another restarting is
  released once.
- An escalation is made by one daemon and reaches the observers
  connected to the others, once each.
"""

import json
import os
import subprocess
import threading
import time

import pytest

import harness
import wuzha_proto as wp

AGENTS = 1000
DEPARTMENTS = 4
CLASSES = 5          # per department
DAEMONS = 3
WATCHERS = ("wa-1", "wa-2", "wa-3")


def cluster_tree():
    t = harness.Tree()
    t.node("jn-police", "police")
    t.principal("officer-li", "jn-police", "issue", "observe")
    t.node("big", "school", "jn-police")
    t.principal("desk-big", "big", "issue", "observe")
    classes = []
    for d in range(DEPARTMENTS):
        dept = t.node("big-d%d" % d, "department", "big")
        for c in range(CLASSES):
            classes.append(t.node("%s-c%d" % (dept, c), "class", dept))
    for i in range(AGENTS):
        t.principal("cl-%05d" % i, classes[i % len(classes)], "receive")
    t.node("small", "school", "jn-police")
    t.principal("desk-small", "small", "issue", "observe")
    t.node("small-d0", "department", "small")
    t.node("small-d0-c0", "class", "small-d0")
    for cn in WATCHERS:
        t.principal(cn, "small-d0-c0", "receive")
    return t


def escalation_tree():
    """small's class, with two observers at small to hear of it."""
    t = harness.Tree()
    t.node("jn-police", "police")
    t.node("small", "school", "jn-police")
    t.principal("desk-small", "small", "issue", "observe")
    t.principal("obs-a", "small", "observe")
    t.principal("obs-b", "small", "observe")
    t.node("small-d0", "department", "small")
    t.node("small-d0-c0", "class", "small-d0")
    for cn in WATCHERS:
        t.principal(cn, "small-d0-c0", "receive")
    return t


OPTS = dict(log_level="info", timeouts={"heartbeat": "60s", "idle": "180s"})


def start_daemons(env, **extra):
    """Three daemons, wz0..wz2; returns their ports (env.server_ports)."""
    ports = []
    for k in range(DAEMONS):
        env.start_daemon(name="wz%d" % k, conf="wuzhad-%d.yaml" % k,
                         **dict(OPTS, **extra))
        ports.append(env.port)
    env.server_ports = ports
    return ports


def daemon_procs(env):
    return {p.name: p for p in env.procs if p.name.startswith("wz")}


@pytest.fixture
def cluster(private_env):
    env = private_env
    env.setup(tree=cluster_tree(), daemon=False,
              certs=["officer-li", "desk-big", "desk-small"] +
              list(WATCHERS))
    ports = start_daemons(env)
    yield env, ports
    # The daemons other than the last one: they must stop cleanly too.
    for name, p in daemon_procs(env).items():
        if p is not env.daemon and p.alive():
            assert p.stop() == 0, "%s did not stop cleanly" % name


def test_alerts_from_each_daemon_reach_all_agents_and_views_agree(cluster):
    env, ports = cluster
    swarm = env.start_swarm("cl-%05d", AGENTS, timeout=280, ports=ports)
    swarm.wait_ready(timeout=120)
    rep = swarm.wait_report(lambda r: r["connected"] == AGENTS, 60,
                            "all agents connected")
    print("agents per daemon:", rep["per_server"])
    assert all(n >= AGENTS // DAEMONS - 1 for n in rep["per_server"]), rep

    # One alert through each daemon: every agent, on every daemon, gets
    # each of them once.
    ids = []
    for k, port in enumerate(ports):
        aid, _, targeted = env.publish("officer-li", "big", port=port,
                                       headline="第%d台服务器发出的预警" % k)
        assert targeted == AGENTS
        ids.append(aid)
    swarm.expect(ids)
    last = swarm.wait_report(lambda r: r["with_all"] == AGENTS, 60,
                             "every agent to show the three alerts")
    assert last["shown_twice"] == 0 and last["shown_unexpected"] == 0, last
    for k, aid in enumerate(ids):
        harness.wait_for(lambda aid=aid: len(env.acks(aid)) == AGENTS, 30,
                         "every delivered ack of alert %d stored" % k)
        env.assert_rate_matches_acks(aid, "big")
    # Each daemon pushed the other daemons' alerts to its own agents.
    for name, p in daemon_procs(env).items():
        fed = p.log().count("published through another server")
        print("%s: %d alerts fed from others" % (name, fed))
        assert fed >= DAEMONS - 1, (name, fed)

    # `agents` through any daemon: all 1,000 online, and where.
    for port in ports:
        r = env.ctl("desk-big", "agents", "--node", "big", "--json", port=port)
        assert r.rc == 0, r
        out = json.loads(r.out)
        assert out["counts"]["online"] == AGENTS, out["counts"]
        servers = {p["server"] for p in out["principals"]
                   if p["cn"].startswith("cl-")}
        assert servers == {"wz0", "wz1", "wz2"}, servers
        listed = [p for p in out["principals"] if p["cn"].startswith("cl-")]
        assert all(p["state"] == "online" and p["online"] == 1
                   for p in listed), listed[:3]
    # The status counters are the same whichever daemon is asked.
    for port in ports:
        r = env.ctl("desk-big", "status", ids[0], "--json", port=port)
        assert r.rc == 0, r
        root = json.loads(r.out)["nodes"][0]
        assert root["node"] == "big" and root["delivered"] == AGENTS, root

    rc, summary = swarm.quit()
    assert rc == 0 and summary["ok"], summary
    # Gone from every daemon's view once their agents left.
    def all_away():
        r = env.ctl("desk-big", "agents", "--node", "big", "--json", port=ports[1])
        return r.rc == 0 and json.loads(r.out)["counts"]["online"] == 0
    harness.wait_for(all_away, 15, "agents to show as away")


class Watch:
    """wuzhactl watch --json on one daemon, lines read in a thread."""

    def __init__(self, env, cn, port, aid):
        conf = env.client_conf(cn, name="watch-%s-%d" % (cn, port),
                               port=port)
        self.proc = subprocess.Popen(
            [harness.binary("wuzhactl"), "-c", conf, "watch", aid, "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.append(raw.decode("utf-8", "replace"))

    def read(self):
        return [json.loads(l)["nodes"][0]["read"] for l in list(self.lines)
                if l.startswith("{")]

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        self.reader.join(5)


def _ack(fs, aid, state):
    fs.send_raw(wp.ack(aid, state))
    while True:
        t, m = fs.recv(10)
        if t == wp.ACK_OK and m["id"] == aid:
            return


def _recv_alert(fs, aid):
    while True:
        t, m = fs.recv(10)
        if t == wp.ALERT:
            return m


def test_watch_and_pending_on_one_daemon_see_acks_through_the_others(
        cluster):
    env, ports = cluster
    # wa-1 on wz0, wa-2 on wz1, wa-3 on wz2.
    sess = {cn: env.session(cn, port=ports[k])[0]
            for k, cn in enumerate(WATCHERS)}
    watch = None
    try:
        aid, _, targeted = env.publish("desk-small", "small", port=ports[0],
                                       headline="冒充客服退款诈骗预警")
        assert targeted == len(WATCHERS)
        for fs in sess.values():
            _recv_alert(fs, aid)
            _ack(fs, aid, wp.ACK_DELIVERED)
        watch = Watch(env, "desk-small", ports[2], aid)
        harness.wait_for(lambda: watch.read() != [], 10, "the first STATUS")
        assert watch.read()[0] == 0
        # pending through wz1: nobody has read, all three online (each on
        # a different daemon).
        r = env.ctl("desk-small", "pending", aid, "--json", port=ports[1])
        assert r.rc == 0, r
        rows = {x["cn"]: x for x in json.loads(r.out)["pending"]}
        assert set(rows) == set(WATCHERS), rows
        assert all(rows[cn]["online"] is True for cn in WATCHERS), rows
        for k, cn in enumerate(WATCHERS, 1):
            _ack(sess[cn], aid, wp.ACK_READ)
            harness.wait_for(lambda k=k: k in watch.read(), 5,
                             "the watch on wz2 to show %d read" % k)
        rc = watch.proc.wait(10)
        assert rc == 0, watch.proc.stderr.read()
        reads = watch.read()
        assert reads == sorted(reads) and reads[-1] == len(WATCHERS), reads
        # Pushed once per change, not once per daemon that saw it.
        assert len(reads) <= 1 + len(WATCHERS), reads
        # An agent gone from wz0 is away in everyone's view.
        sess.pop("wa-1").close()

        def wa1_away():
            r = env.ctl("desk-small", "agents", "--node", "small", "--json",
                        port=ports[2])
            rows = {p["cn"]: p for p in json.loads(r.out)["principals"]}
            return rows["wa-1"]["state"] != "online" and \
                rows["wa-2"]["server"] == "wz1"
        harness.wait_for(wa1_away, 10, "wa-1 away, wa-2 on wz1")
    finally:
        if watch is not None:
            watch.close()
        for fs in sess.values():
            fs.close()


def test_held_alert_due_with_one_daemon_down_and_one_restarting_goes_once(
        cluster):
    env, ports = cluster
    agent = env.start_agent("wa-1")
    agent.proc.wait_log(r"connected to", timeout=15)
    aid = env.new_id("held")
    r = env.ctl("desk-small", "publish", "--target", "small", "--headline",
                "定时发布的防诈提醒", "--id", aid, "--at", "+4s", "--json",
                port=ports[0])
    assert r.rc == 0, r
    assert json.loads(r.out)["seq"] == 0
    procs = daemon_procs(env)
    # Every daemon learns of it through the feed.
    for name in ("wz1", "wz2"):
        procs[name].wait_log(r"alert %s from another server for small: "
                             r"held until" % aid, timeout=10)
    # wz0, which took it, dies; wz1 is restarted across its time.
    procs["wz0"].stop(sig=9)
    procs["wz1"].stop()
    time.sleep(3.5)
    env.start_daemon(name="wz1", conf="wuzhad-1.yaml", **OPTS)
    agent.wait_shown(aid, timeout=20)
    time.sleep(1.0)     # a second release, if any, would be in by now
    # The stream has one entry for the alert going live: one release.
    entries = env.redis.cmd("XRANGE", env.redis.k("alerts"), "-", "+")
    fields = [dict(zip([x.decode() for x in e[1][::2]],
                       [x.decode() for x in e[1][1::2]])) for e in entries]
    live = [f for f in fields if f.get("id") == aid and f.get("seq") != "0"]
    assert len(live) == 1 and "released" in live[0], fields
    assert agent.shown_ids().count(aid) == 1, agent.shown()
    assert env.redis.zcard("schedule") == 0


def _escalations(fs, timeout):
    """Every ESCALATION on fs within timeout seconds."""
    out = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return out
        try:
            t, msg = fs.recv(timeout=left)
        except TimeoutError:
            return out
        if t == wp.ESCALATION:
            out.append(msg)


def test_an_escalation_is_made_once_and_reaches_observers_on_every_daemon(
        private_env):
    env = private_env
    env.setup(tree=escalation_tree(), daemon=False,
              certs=["desk-small", "obs-a", "obs-b"] + list(WATCHERS))
    ports = start_daemons(env, delivery={"remind_after": "1h",
                                         "max_reminders": 0,
                                         "escalate_after": "1500ms"})
    # The observers listen on wz1 and wz2; the alert goes in through wz0.
    obs = {"obs-a": env.session("obs-a", port=ports[1])[0],
           "obs-b": env.session("obs-b", port=ports[2])[0]}
    try:
        aid, _, targeted = env.publish("desk-small", "small-d0-c0",
                                       port=ports[0])
        assert targeted == len(WATCHERS)
        got = {cn: _escalations(fs, 5) for cn, fs in obs.items()}
        for cn, msgs in got.items():
            assert len(msgs) == 1, (cn, msgs)
            assert msgs[0]["id"] == aid and msgs[0]["node"] == "small"
            assert sorted(m["cn"] for m in msgs[0]["members"]) == \
                sorted(WATCHERS)
        assert env.redis.cmd("HGET", env.redis.k("alert:" + aid),
                             "escalated") == b"1"
        # Made by one daemon; the others found it done.
        made = [name for name, p in daemon_procs(env).items()
                if "alert %s: escalated to" % aid in p.log()]
        assert len(made) == 1, made
    finally:
        for fs in obs.values():
            fs.close()
