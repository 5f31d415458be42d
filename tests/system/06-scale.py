# SPDX-License-Identifier: ISC
"""
06-scale: 2,000 agents of one school, all connected at once through the
swarm tool.  A publish to the school must cost Redis work in proportion to
the nodes, not the agents; the 2,000 delivered acks must be written in
batches, and every counter must come out right.
"""

import json
import re
import subprocess

import pytest

import harness

AGENTS = 2000
DEPARTMENTS = 4
CLASSES = 5          # per department


def scale_tree():
    t, classes = harness.big_school_tree("sw-%05d", AGENTS, DEPARTMENTS,
                                         CLASSES, desk=True)
    t.node("small", "school", "jn-police")
    t.principal("desk-small", "small", "receive", "issue", "observe")
    t.node("small-d0", "department", "small")
    t.node("small-d0-c0", "class", "small-d0")
    t.principal("adv-small", "small-d0-c0", "receive")
    return t, classes


def _calls(stats, *names):
    return sum(stats.get(n, 0) for n in names)


def _redis_work(stats):
    """Commands run, less the ones the test itself sent."""
    return sum(v for k, v in stats.items()
               if k not in ("info", "config|resetstat", "config"))


def test_publish_to_2000_agents_costs_per_node_and_acks_are_batched(
        private_env):
    env = private_env
    tree, classes = scale_tree()
    env.setup(tree=tree, certs=["officer-li"],
              # The feed's polls (one script call each) are not acks.
              timeouts={"heartbeat": "60s", "idle": "180s", "feed": "10s"},
              log_level="info")
    nodes = len(tree.nodes)
    assert tree.receivers("big") == ["sw-%05d" % i for i in range(AGENTS)]

    swarm = env.spawn("swarm", [
        harness.binary("swarm"),
        "--server", "127.0.0.1:%d" % env.port, "--server-name", "wuzhad",
        "--ca-cert", env.ca, "--ca-key", env.ca_key,
        "--cn-format", "sw-%05d",
        "--principals", env.principals_file(), "--count", str(AGENTS),
        "--alerts", "1",
        "--inflight", "64", "--timeout", "150"], stdin=subprocess.PIPE)
    try:
        swarm.wait_out(r"^ready %d$" % AGENTS, timeout=90)

        env.redis.resetstat()
        aid, _, targeted = env.publish("officer-li", "big",
                                       headline="全校预警")
        assert targeted == AGENTS
        swarm.wait_out(r"^received %d$" % AGENTS, timeout=60)
        pub = env.redis.commandstats()
        print("publish commandstats:", json.dumps(pub, sort_keys=True))
        scripts = _calls(pub, "evalsha", "eval")
        assert 1 <= scripts <= 3, pub
        work = _redis_work(pub)
        assert work <= 10 * nodes + 50, \
            "publish cost %d Redis commands for %d nodes" % (work, nodes)
        assert work < AGENTS / 4
        assert not env.redis.exists("ack:" + aid)

        env.redis.resetstat()
        swarm.proc.stdin.write(b"ack\n")
        swarm.proc.stdin.flush()
        swarm.wait_out(r"^acked %d$" % AGENTS, timeout=60)
        acks = env.redis.commandstats()
        print("ack commandstats:", json.dumps(acks, sort_keys=True))
        batches = _calls(acks, "evalsha", "eval")
        assert 1 <= batches <= AGENTS / 8, \
            "%d script calls for %d acks: not batched" % (batches, AGENTS)

        assert env.redis.hlen("ack:" + aid) == AGENTS
        rate = env.rate(aid)
        assert int(env.stored_alert(aid)["targeted"]) == AGENTS
        assert rate["big"]["delivered"] == AGENTS
        per_class = AGENTS // len(classes)
        for cls in classes:
            assert rate[cls]["delivered"] == per_class, cls
        for d in range(DEPARTMENTS):
            dept = "big-d%d" % d
            assert rate[dept]["delivered"] == per_class * CLASSES
        assert "small" not in rate

        # 2,000 members do not fit one STATUS: pending asks page after
        # page and lists each of them once, then counts them all.
        r = env.ctl("officer-li", "pending", aid, "--node", "big")
        assert r.rc == 0, r
        listed = [l.split()[0] for l in r.out.splitlines()
                  if l.startswith("sw-")]
        assert len(listed) == len(set(listed)) == AGENTS, r.out[-300:]
        assert re.search(r"\n%d of %d have not read \(\d+ of them online "
                         r"now\)\n$" % (AGENTS, AGENTS), r.out), r.out[-300:]

        swarm.proc.stdin.close()
        rc = swarm.proc.wait(30)
        summary = json.loads(swarm.out().strip().splitlines()[-1])
        print("swarm:", summary)
        assert rc == 0 and summary["ok"], summary
        # Each distinct envelope verified once, not once per agent.
        assert summary["verified"] == 1
    finally:
        if swarm.alive():
            swarm.stop()


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
