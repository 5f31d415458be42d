# SPDX-License-Identifier: ISC
"""
43-failover: wuzhad behind Redis Sentinel, with redis.wait_replicas 1,
through ROUNDS fail-overs.  A primary and a replica on loopback ports,
three Sentinels (quorum 2), wuzhad that knows only the Sentinels, a
swarm of resilient agents acking every alert.  Three wuzhad share the
store: the agents are spread over two, the issuer publishes through the
third, so every alert reaches the agents through the feed (the `alerts`
stream) and every daemon must follow each fail-over.  Each round publishes
alerts, SIGKILLs the primary while the fan-out and the acks are flowing,
waits for the Sentinels to promote the replica, and starts the killed
one again as a replica of the new primary.  Checked:

  - right after each promotion, on the new primary: every alert told
    PUBLISHED is there, and every ack answered ACK_OK is stored;
  - a PUBLISH during a fail-over gets 501 (or its session is cut) and the
    very same envelope sent again gets PUBLISHED;
  - in the end every PUBLISHED alert is live in Redis and shown by every
    agent, whose acks are all confirmed and stored;
  - no wuzhad exits or needs an operator, each saw every fail-over,
    and /metrics names the primary it follows.
"""

import os
import re
import threading
import time
import urllib.request

import pytest

import cluster
import harness
import wuzha_proto as wp

ROUNDS = 10
PER_ROUND = 5            # alerts published each round
SWARM = 12               # agents
KILL_AFTER = 2           # PUBLISHED this round before the primary dies
RETRY_FOR = 45           # seconds one alert may take, retries included
PACE = 0.15              # seconds between two alerts of a round

# A cluster of its own; the shared Redis is not used.
PRIVATE_REDIS = True


def failover_tree():
    t = harness.Tree()
    t.node("jn-police", "police")
    t.principal("officer-li", "jn-police", "issue", "observe")
    t.node("fs", "school", "jn-police")
    t.node("fs-d0", "department", "fs")
    t.node("fs-d0-c0", "class", "fs-d0")
    for i in range(SWARM):
        t.principal("fo-%03d" % i, "fs-d0-c0", "receive")
    return t


class Publisher(threading.Thread):
    """
    Publishes n alerts one after another, each envelope sent again (the
    same bytes) until PUBLISHED.  outcomes: id -> list of what each try
    got ("published", "501", "cut"); told: id -> seq.
    """

    def __init__(self, env, port, n, key, cert, tag):
        super().__init__(daemon=True)
        self.env, self.port, self.n, self.key, self.cert, self.tag = \
            env, port, n, key, cert, tag
        self.outcomes, self.told, self.failures = {}, {}, []
        self.lock = threading.Lock()

    def one(self, envelope):
        """One try: ("published", seq) or ("501", text) or ("cut", why)."""
        try:
            fs, _ = wp.session("127.0.0.1", self.port, self.env.ca,
                               self.env.crt("officer-li"),
                               self.env.key("officer-li"),
                               role=wp.ROLE_CONSOLE)
        except Exception as ex:     # refused, reset, handshake cut
            return "cut", repr(ex)
        try:
            fs.send_raw(wp.publish(envelope))
            t, msg = fs.recv(15)
        except Exception as ex:     # closed by the fail-over's BYE
            return "cut", repr(ex)
        finally:
            fs.close()
        if t == wp.PUBLISHED:
            return "published", msg["seq"]
        if t == wp.ERROR and msg["code"] == 501:
            return "501", msg.get("text", "")
        if t == wp.ERROR and msg["code"] == 307 and \
                "in the store now" in msg.get("text", ""):
            return "cut", msg["text"]      # the first try still in Redis
        if t == wp.BYE:
            return "cut", "BYE %s" % msg
        return "bad", "%s %s" % (wp.TYPE_NAMES.get(t), msg)

    def run(self):
        for _ in range(self.n):
            aid = self.env.new_id(self.tag)
            envelope = wp.signed_envelope(
                wp.alert_body(aid, "officer-li", "fs"), self.key, self.cert)
            got = self.outcomes.setdefault(aid, [])
            deadline = time.monotonic() + RETRY_FOR
            while time.monotonic() < deadline:
                what, v = self.one(envelope)
                got.append(what)
                if what == "published":
                    with self.lock:
                        self.told[aid] = v
                    break
                if what == "bad":
                    self.failures.append((aid, v))
                    return
                time.sleep(0.2)
            else:
                self.failures.append((aid, "never PUBLISHED: %s" % got))
                return
            time.sleep(PACE)

    def published(self):
        with self.lock:
            return dict(self.told)


def metrics_text(url):
    with urllib.request.urlopen(url, timeout=10) as f:
        return f.read().decode()


def check_on(node, prefix, told, confirmed):
    """What must already be on node (the new primary): alerts and acks."""
    r = harness.Redis(node.sock, prefix, timeout=5)
    try:
        for aid, seq in told.items():
            h = r.hgetall("alert:" + aid)
            assert h, "PUBLISHED alert %s is not on the new primary" % aid
            assert int(h["seq"]) == seq, (aid, h.get("seq"), seq)
        for cn, aid in confirmed:
            v = r.cmd("HGET", r.k("ack:" + aid), cn)
            assert v is not None, \
                "ACK_OK'd ack %s of %s is not on the new primary" % (cn, aid)
    finally:
        r.close()


def test_sentinel_failovers_lose_nothing_confirmed(env):
    c = cluster.Cluster(env, replicas=1)
    c.start()
    env.redis_sock = c.nodes[0].sock
    env.redis = harness.Redis(env.redis_sock, env.prefix)
    env.set_tree(failover_tree())
    env.make_pki()
    env.import_tree()
    redis = {"wait_replicas": 1, "wait_timeout": "500ms",
             "connect_timeout": "500ms", "command_timeout": "3s",
             "reconnect_min": "100ms", "reconnect_max": "1s"}
    daemons, metrics = [], []
    for name in ("wuzhad", "wuzhad-b", "wuzhad-c"):
        env.start_daemon(sentinels=c.sentinel_addrs, redis=redis,
                         name=name, conf=name + ".yaml")
        daemons.append((env.daemon, env.port))
        m = env.daemon.wait_log(
            r"metrics on http://(127\.0\.0\.1:\d+)/metrics", 10)
        metrics.append("http://%s/metrics" % m.group(1))
        assert 'wuzha_redis_primary{addr="%s"} 1' % c.nodes[0].addr in \
            metrics_text(metrics[-1])
    # Agents on the first two, the issuer on the third.
    env.daemon, env.port = daemons[0]
    publish_port = daemons[2][1]

    swarm = env.start_swarm("fo-%03d", SWARM, timeout=600,
                            ports=[daemons[0][1], daemons[1][1]])
    swarm.wait_ready(60)
    key = wp.load_key(env.key("officer-li"))
    cert = wp.load_cert(env.crt("officer-li"))
    told, tries = {}, {}
    t_start = time.monotonic()
    for rnd in range(ROUNDS):
        primary = c.primary()
        assert primary is not None
        pub = Publisher(env, publish_port, PER_ROUND, key, cert,
                        "fo%d" % rnd)
        pub.start()
        harness.wait_for(lambda: len(pub.published()) >= KILL_AFTER or
                         not pub.is_alive(), 30,
                         "round %d: %d alerts PUBLISHED" % (rnd, KILL_AFTER),
                         interval=0.02)
        # Mid fan-out and mid acks: what was confirmed until now must live.
        before_told = pub.published()
        before_told.update(told)
        before_acks = swarm.confirmed()
        primary.kill()
        t_kill = time.monotonic()
        new = c.wait_promoted(primary, timeout=40)
        t_promoted = time.monotonic()
        check_on(new, env.prefix, before_told, before_acks)
        c.restart_as_replica(primary, new)
        pub.join(RETRY_FOR * PER_ROUND)
        assert not pub.is_alive(), "round %d: publisher stuck" % rnd
        assert not pub.failures, pub.failures
        told.update(pub.published())
        tries.update(pub.outcomes)
        for d, _ in daemons:
            assert d.alive(), "%s exited:\n%s" % (d.name, d.tail())
        env.redis_sock = new.sock
        env.redis.close()
        env.redis = harness.Redis(new.sock, env.prefix)
        print("round %d: %s -> %s, promoted in %.1f s, %d told so far"
              % (rnd, primary.name, new.name, t_promoted - t_kill,
                 len(told)))
    print("rounds took %.1f s" % (time.monotonic() - t_start))

    # Every alert told PUBLISHED: live in Redis, shown by every agent,
    # its acks all confirmed and stored.
    final = c.primary()
    for aid, seq in told.items():
        h = env.stored_alert(aid)
        assert h and int(h["seq"]) == seq, (aid, h, seq)
        assert env.redis.cmd("ZSCORE", env.redis.k("live"), aid) is not None
    swarm.expect(sorted(told))
    swarm.wait_report(lambda r: r["with_all"] == SWARM and
                      r["confirmed_all"] == SWARM, 90,
                      "every agent to show every alert with its ack "
                      "confirmed")
    for cn, aid in swarm.confirmed():
        if aid in told:
            assert cn in env.acks(aid), (cn, aid)
    for aid in told:
        assert len(env.acks(aid)) == SWARM, (aid, env.acks(aid))

    # Publishes met the fail-overs, and a retry got through each time.
    met = [aid for aid, got in tries.items() if got[0] != "published"]
    refused = sum(got.count("501") for got in tries.values())
    print("%d alerts, %d met a fail-over, %d answers were 501, tries: %s"
          % (len(tries), len(met), refused,
             {k: v for k, v in tries.items() if len(v) > 1}))
    assert len(told) == ROUNDS * PER_ROUND
    assert refused > 0, "no PUBLISH met a fail-over: nothing checked"
    assert len(met) >= ROUNDS // 2, "few rounds had a PUBLISH meet the " \
        "fail-over: %s" % met

    # Each daemon followed every fail-over by itself.
    for (d, _), url in zip(daemons, metrics):
        assert d.alive()
        text = metrics_text(url)
        fo = int(re.search(r"^wuzha_redis_failovers_total (\d+)$", text,
                           re.M).group(1))
        waits = int(re.search(r"^wuzha_redis_waits_total (\d+)$", text,
                              re.M).group(1))
        print("%s metrics: %d fail-overs, %d WAITs" % (d.name, fo, waits))
        assert fo == ROUNDS, text
        assert waits > 0
        assert 'wuzha_redis_primary{addr="%s"} 1' % final.addr in text, text
        assert "redis lost its data" not in d.log()
        assert "runtime error" not in d.log(), d.name   # UBSan builds
    rc, summary = swarm.quit()
    print("swarm:", summary)
    # The others are stopped here, their exit checked like the first
    # one's in the teardown (ASan builds exit non-zero on a leak).
    for d, _ in daemons[1:]:
        assert d.stop() == 0, d.tail()


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
