# SPDX-License-Identifier: ISC
"""
08-crash: wuzhad killed (SIGKILL) in the middle of fan-out and acks, again
and again, under 1,000 agents that stay up and reconnect.  Delivery is
at least once: in the end every agent has shown every alert that was
PUBLISHED exactly once (copies on the wire are fine), and the per-node
counters in rate:{id} agree with the per-agent states in ack:{id}.
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
ROUNDS = 20
KILL_MAX_MS = 300    # the kill lands 0..300 ms after the publish starts


def crash_tree():
    return harness.big_school_tree("cr-%05d", AGENTS, DEPARTMENTS,
                                   CLASSES)[0]


def test_daemon_killed_during_fanout_loses_nothing_and_shows_once(
        private_env):
    env = private_env
    seed = int(os.environ.get("WUZHA_TEST_SEED") or time.time())
    print("seed", seed)
    rng = random.Random(seed)
    tree = crash_tree()
    opts = dict(port=harness.fixed_port(), log_level="info",
                timeouts={"heartbeat": "60s", "idle": "180s"})
    env.setup(tree=tree, certs=["officer-li"], **opts)
    conf = env.client_conf("officer-li")

    swarm = env.start_swarm("cr-%05d", AGENTS, timeout=280)
    swarm.wait_ready(timeout=90)

    published, refused = [], []
    for rnd in range(ROUNDS):
        # Everyone back first, so that each kill meets a full fan-out.
        swarm.wait_report(lambda r: r["connected"] == AGENTS, 60,
                          "all agents connected before round %d" % rnd)
        aid = env.new_id("crash%02d" % rnd)
        pub = subprocess.Popen(
            [harness.binary("wuzhactl"), "-c", conf, "publish",
             "--target", "big", "--headline", "第%d轮预警" % rnd,
             "--id", aid],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=env.dir)
        delay = rng.uniform(0, KILL_MAX_MS / 1000.0)
        time.sleep(delay)
        env.kill_daemon()
        try:
            out, err = pub.communicate(timeout=harness.CMD_TIMEOUT)
        except subprocess.TimeoutExpired:
            pub.kill()
            pub.communicate(timeout=10)
            raise AssertionError("wuzhactl publish hung after the kill")
        m = harness.PUBLISHED_RX.search(out.decode("utf-8", "replace"))
        if pub.returncode == 0 and m:
            assert m.group(1) == aid
            assert int(m.group(3)) == AGENTS
            published.append(aid)
        else:
            refused.append(aid)
        print("round %d: kill after %.0f ms: %s" % (
            rnd, delay * 1000, "published" if aid in published
            else "not published (%s)" % err.decode(errors="replace")
            .strip()[-120:]))
        env.start_daemon(**opts)

    print("published %d of %d" % (len(published), ROUNDS))
    assert published, "no publish got through in %d rounds" % ROUNDS

    swarm.expect(published)
    last = swarm.wait_report(
        lambda r: r["with_all"] == AGENTS and r["connected"] == AGENTS, 120,
        "every agent to show every published alert")
    assert last["shown_twice"] == 0, last
    assert last["failed"] == 0, last

    # Acks settle: every agent's delivered is stored for every alert.  An
    # ACK_OK may have died with the daemon that stored the ack; what
    # counts is that Redis has it (else the alert stays pending and is
    # sent again on the next connection, and acked again).
    def settled():
        return all(len(env.acks(aid)) == AGENTS for aid in published)
    try:
        harness.wait_for(settled, 60, "ack:{id} to hold every agent",
                         interval=0.5)
    finally:
        last = swarm.report()
        print("swarm:", last)
        print("ack:{id} sizes:", {aid: len(env.acks(aid))
                                  for aid in published})
    assert last["shown_twice"] == 0, last

    # The counters say the same as the per-agent states.
    for aid in published:
        acks = env.acks(aid)
        assert all(st >= 1 for st, _, _ in acks.values()), aid
        env.assert_rate_matches_acks(aid, "big")
        assert int(env.stored_alert(aid)["targeted"]) == AGENTS
    # An alert stored though its publish was cut off must be just as
    # consistent, whatever reached the agents of it.
    for aid in refused:
        if env.redis.exists("rate:" + aid):
            env.assert_rate_matches_acks(aid, "big")

    rc, summary = swarm.quit()
    assert rc == 0 and summary["ok"], summary
    assert env.daemon.alive()


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
