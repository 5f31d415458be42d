# SPDX-License-Identifier: ISC
"""
46-daemons-kill: three wuzhad on one Redis under 1,000 agents that list
all three.  Twenty rounds: an alert is published through one daemon and
another one is killed (SIGKILL) 0..300 ms later, mid-fan-out, then
started again.  Its agents move to the others.  In the end every agent
has shown every alert that was PUBLISHED exactly once (by the agents'
own records), and the per-node counters in rate:{id} agree with the
per-agent states in ack:{id}.
"""

import os
import random
import subprocess
import time

import pytest

import harness

AGENTS = 1000
DEPARTMENTS = 4
CLASSES = 5          # per department
DAEMONS = 3
ROUNDS = 20
KILL_MAX_MS = 300


def kill_tree():
    t = harness.Tree()
    t.node("jn-police", "police")
    t.principal("officer-li", "jn-police", "issue", "observe")
    t.node("big", "school", "jn-police")
    classes = []
    for d in range(DEPARTMENTS):
        dept = t.node("big-d%d" % d, "department", "big")
        for c in range(CLASSES):
            classes.append(t.node("%s-c%d" % (dept, c), "class", dept))
    for i in range(AGENTS):
        t.principal("dk-%05d" % i, classes[i % len(classes)], "receive")
    return t


def test_a_daemon_killed_mid_fanout_loses_nothing_and_shows_once(
        private_env):
    env = private_env
    seed = int(os.environ.get("WUZHA_TEST_SEED") or time.time())
    print("seed", seed)
    rng = random.Random(seed)
    env.setup(tree=kill_tree(), certs=["officer-li"], daemon=False)
    opts = dict(log_level="info",
                timeouts={"heartbeat": "60s", "idle": "180s"})
    ports = [harness.fixed_port() for _ in range(DAEMONS)]
    procs = {}

    def start(k):
        procs[k] = env.start_daemon(name="wz%d" % k, port=ports[k],
                                    conf="wuzhad-%d.yaml" % k, **opts)

    for k in range(DAEMONS):
        start(k)
    env.server_ports = ports
    swarm = env.start_swarm("dk-%05d", AGENTS, timeout=400, ports=ports)
    swarm.wait_ready(timeout=120)

    published, refused = [], []
    for rnd in range(ROUNDS):
        swarm.wait_report(lambda r: r["connected"] == AGENTS, 60,
                          "all agents connected before round %d" % rnd)
        victim = rnd % DAEMONS
        via = (victim + 1 + rng.randrange(DAEMONS - 1)) % DAEMONS
        conf = env.client_conf("officer-li", name="ctl-via-%d" % via,
                               port=ports[via])
        aid = env.new_id("dk%02d" % rnd)
        pub = subprocess.Popen(
            [harness.binary("wuzhactl"), "-c", conf, "publish",
             "--target", "big", "--headline", "第%d轮预警" % rnd,
             "--id", aid],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=env.dir)
        delay = rng.uniform(0, KILL_MAX_MS / 1000.0)
        time.sleep(delay)
        procs[victim].stop(sig=9)
        try:
            out, err = pub.communicate(timeout=harness.CMD_TIMEOUT)
        except subprocess.TimeoutExpired:
            pub.kill()
            pub.communicate(timeout=10)
            raise AssertionError("wuzhactl publish hung")
        m = harness.PUBLISHED_RX.search(out.decode("utf-8", "replace"))
        # The publishing daemon lives on: the publish must go through.
        assert pub.returncode == 0 and m, err.decode(errors="replace")
        assert int(m.group(3)) == AGENTS
        published.append(aid)
        print("round %d: via wz%d, wz%d killed after %.0f ms" % (
            rnd, via, victim, delay * 1000))
        start(victim)

    swarm.expect(published)
    last = swarm.wait_report(
        lambda r: r["with_all"] == AGENTS and r["connected"] == AGENTS, 120,
        "every agent to show every published alert")
    print("swarm:", last)
    assert last["shown_twice"] == 0, last
    assert last["failed"] == 0, last
    assert last["reconnects"] >= ROUNDS * (AGENTS // DAEMONS) // 2, last

    def settled():
        return all(len(env.acks(aid)) == AGENTS for aid in published)
    harness.wait_for(settled, 60, "ack:{id} to hold every agent",
                     interval=0.5)
    for aid in published:
        acks = env.acks(aid)
        assert all(st >= 1 for st, _, _ in acks.values()), aid
        env.assert_rate_matches_acks(aid, "big")

    rc, summary = swarm.quit()
    assert rc == 0 and summary["ok"], summary
    for k, p in procs.items():
        assert p.alive(), "wz%d died" % k
        if p is not env.daemon:
            assert p.stop() == 0, "wz%d did not stop cleanly" % k


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
