# SPDX-License-Identifier: ISC
"""
44-reuseport: several wuzhad on one host share one port
(listen_reuse_port: true, SO_REUSEPORT), which is how wuzha uses more
than one core.  Two daemons on one Redis and one fixed port both start,
each under its own name (--name, -N) and metrics address (-m); their
/metrics say which instance they are; connections are spread over both
(each daemon's agents_online gauge); when one stops, its agents
reconnect to the same port, reach the other, and an alert published then
reaches them all.  Without listen_reuse_port on both sides, the second
daemon on a port in use is refused at start, and says how to share it.
"""

import http.client
import re
import signal

import harness
import wuzha_proto as wp

SHARED = {"listen_reuse_port": "true"}
RECEIVERS = ["desk-a", "desk-b"] + \
    ["liaison-%s%d" % (s, d) for s in "ab" for d in (1, 2)] + \
    ["adv-%s%d%d" % (s, d, c) for s in "ab" for d in (1, 2) for c in (1, 2)]
AGENTS = ["adv-a11", "adv-a12", "adv-a21", "adv-b11", "adv-b12", "adv-b21"]


def start(env, name, port, top=SHARED, wait=True):
    """wuzhad NAME on port, with its own file and metrics address."""
    return env.start_daemon(port=port, top=top, wait=wait,
                            conf="wuzhad-%s.yaml" % name,
                            args=["--name", name, "-m", "127.0.0.1:0"])


def metrics_port(daemon):
    m = daemon.wait_log(r"metrics on http://127\.0\.0\.1:(\d+)/metrics",
                        timeout=10)
    return int(m.group(1))


def scrape(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", "/metrics")
        r = c.getresponse()
        assert r.status == 200
        return r.read().decode()
    finally:
        c.close()


def gauge(port, name):
    m = re.search(r"^%s (\d+)$" % re.escape(name), scrape(port), re.M)
    assert m, name
    return int(m.group(1))


def test_two_daemons_share_a_port_spread_connections_and_survive_a_stop(env):
    port = harness.fixed_port()
    env.setup(daemon=False)
    one = start(env, "one", port)
    two = start(env, "two", port)
    for d, name in ((one, "one"), (two, "two")):
        d.wait_log(r"wuzhad@%s: listening on 127\.0\.0\.1:%d \(port shared: "
                   r"SO_REUSEPORT\)" % (name, port), timeout=10)
        d.wait_log(r"starting as %s " % name, timeout=5)
    mp = {"one": metrics_port(one), "two": metrics_port(two)}
    assert mp["one"] != mp["two"]
    for name, p in mp.items():
        assert 'wuzha_instance_info{name="%s",reuse_port="true"} 1' % name \
            in scrape(p)

    # Two sessions per receiver, 28 connections: the kernel spreads them
    # by their source ports (all on one daemon: 2 in 2^28).
    sessions = []
    try:
        for cn in RECEIVERS * 2:
            fs, w = env.session(cn)
            assert w["principal"] == cn
            sessions.append(fs)

        def spread():
            n = {k: gauge(p, "wuzha_agents_online") for k, p in mp.items()}
            return n if sum(n.values()) == len(sessions) else None
        n = harness.wait_for(spread, 10, "28 agents online in all")
        print("agents online per daemon:", n)
        assert n["one"] > 0 and n["two"] > 0, n
    finally:
        for fs in sessions:
            fs.close()
    harness.wait_for(lambda: gauge(mp["one"], "wuzha_agents_online") +
                     gauge(mp["two"], "wuzha_agents_online") == 0, 10,
                     "the sessions gone")

    # Real agents, spread likewise; then "two" stops (SIGTERM: it closes
    # its listener first).  Its agents come back on the same port, to
    # "one", and an alert published then reaches every agent.
    agents = [env.start_agent(cn) for cn in AGENTS]
    for a in agents:
        a.proc.wait_log(r"welcome principal", timeout=15)
    on_two = gauge(mp["two"], "wuzha_agents_online")
    print("real agents on two before its stop:", on_two)
    assert two.stop() == 0
    two.wait_log(r"stopped", timeout=5)
    env.daemon = one
    harness.wait_for(lambda: gauge(mp["one"], "wuzha_agents_online") ==
                     len(AGENTS), 20, "every agent on daemon one")
    fs, w = env.session("desk-a")
    fs.close()
    aid, _, targeted = env.publish("officer-li", "jn-police")
    assert targeted == len(RECEIVERS)
    for a in agents:
        a.wait_shown(aid)


def test_a_port_in_use_is_refused_unless_both_share_it(env):
    port = harness.fixed_port()
    env.setup(daemon=False)
    first = start(env, "first", port)
    first.wait_log(r"listening on 127\.0\.0\.1:%d \(port shared" % port,
                   timeout=10)
    # Without listen_reuse_port the second may not bind the port.
    lone = start(env, "lone", port, top={}, wait=False)
    rc = lone.proc.wait(30)
    assert rc == 1, rc
    lone.wait_log(r"wuzhad@lone: listener: cannot listen on 127\.0\.0\.1:%d "
                  r"\(to share a port, every daemon on it needs "
                  r"listen_reuse_port: true and the same user\): Address "
                  r"already in use" % port, timeout=5)
    env.daemon = first
    # The first still answers.
    fs, w = env.session("adv-a11")
    try:
        fs.send_raw(wp.ping(7))
        t, msg = fs.recv()
        assert t == wp.PONG and msg["nonce"] == 7
    finally:
        fs.close()


def test_a_port_held_without_sharing_refuses_a_sharer(env):
    port = harness.fixed_port()
    env.setup(daemon=False)
    first = start(env, "plain", port, top={})
    first.wait_log(r"(?m)listening on 127\.0\.0\.1:%d$" % port, timeout=10)
    sharer = start(env, "sharer", port, wait=False)
    assert sharer.proc.wait(30) == 1
    sharer.wait_log(r"cannot listen on 127\.0\.0\.1:%d \(to share a port"
                    % port, timeout=5)
    env.daemon = first


def test_reload_keeps_name_and_sharing(env):
    """name and listen_reuse_port need a restart: a reload that changes
    them says so and keeps them."""
    port = harness.fixed_port()
    env.setup(daemon=False)
    d = env.start_daemon(port=port, top=SHARED, name="alpha",
                         conf="wuzhad-alpha.yaml")
    d.wait_log(r"wuzhad@alpha: listening on .*SO_REUSEPORT", timeout=10)
    path = d.argv[d.argv.index("-c") + 1]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace('name: "alpha"', 'name: "beta"')
                .replace("listen_reuse_port: true",
                         "listen_reuse_port: false"))
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"wuzhad@alpha: reload: name alpha -> beta needs a restart; "
               r"still alpha", timeout=10)
    d.wait_log(r"reload: listen_reuse_port true -> false needs a restart",
               timeout=5)
    d.wait_log(r"wuzhad@alpha: reload: configuration", timeout=5)
    mp = metrics_port(d)
    assert 'wuzha_instance_info{name="alpha",reuse_port="true"} 1' in \
        scrape(mp)


if __name__ == "__main__":
    import pytest
    raise SystemExit(pytest.main([__file__, "-v"]))
