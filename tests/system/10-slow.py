# SPDX-License-Identifier: ISC
"""
10-slow: a slow consumer.  One agent stops reading its socket while many
large alerts go out.  wuzhad cuts it off once its output passes
limits.max_output (and says so), its memory stays bounded, the other
agents get every alert all the same, and everything stays pending for the slow agent (10-slow-resync checks
that it gets it all when it reads again).
"""

import re

import pytest

import harness

NORMAL = 20          # agents that read
ALERTS_MAX = 800     # large alerts at most before the cut-off
AFTER_CUTOFF = 5     # alerts published after it
MAX_OUTPUT = 64 * 1024
RSS_LIMIT_KIB = 200 * 1024
TEXT_CHARS = 5200    # 3-byte characters: just under max_text (16384)


def slow_tree():
    t = harness.Tree()
    t.node("jn-police", "police")
    t.principal("officer-li", "jn-police", "issue", "observe")
    t.node("sl", "school", "jn-police")
    t.node("sl-d0", "department", "sl")
    t.node("sl-d0-c0", "class", "sl-d0")
    t.principal("slow-000", "sl-d0-c0", "receive")
    for i in range(NORMAL):
        t.principal("fast-%03d" % i, "sl-d0-c0", "receive")
    return t


def sanitized(pid):
    """True if the process runs under AddressSanitizer."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def rss_limit_kib(pid):
    # ASan holds up to 256 MiB of freed memory in its quarantine.
    return RSS_LIMIT_KIB + (256 * 1024 if sanitized(pid) else 0)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


# A redis-server of its own (see the env fixture in conftest.py).
PRIVATE_REDIS = True


def cut_off_slow_agent(env):
    """
    The slow agent and NORMAL reading ones up; large alerts published
    until wuzhad cuts the slow one off, and some after.  Checks the cut-off
    and the daemon's memory, and that the reading agents got everything.
    Returns (slow swarm, fast swarm, published ids).
    """
    tree = slow_tree()
    env.setup(tree=tree, certs=["officer-li"], log_level="info",
              limits={"max_output": MAX_OUTPUT},
              timeouts={"heartbeat": "60s", "idle": "180s"})
    receivers = NORMAL + 1
    slow = env.start_swarm("slow-%03d", 1, "--stall", "1", name="slow",
                           timeout=250)
    fast = env.start_swarm("fast-%03d", NORMAL, name="fast", timeout=250)
    slow.wait_ready(timeout=30)
    fast.wait_ready(timeout=30)

    text = ("反诈提醒：不要向陌生账户转账。" * TEXT_CHARS)[:TEXT_CHARS]
    assert len(text.encode()) <= 16384
    # The kernel takes the first few MiB (the daemon's socket send buffer
    # grows up to net.ipv4.tcp_wmem's maximum); past that, output piles
    # up in wuzhad until the bound.  Publish until it cuts the agent off,
    # then a few more that can only reach it as pending.
    cutoff = re.compile(r"conn \d+ slow-000@\S+: (\d+) bytes queued, "
                        r"over the limit of %d" % MAX_OUTPUT)
    published, peak, m, after = [], 0, None, 0
    while after < AFTER_CUTOFF:
        assert len(published) < ALERTS_MAX, \
            "slow-000 not cut off after %d alerts of %d bytes" % (
                len(published), len(text.encode()))
        aid, _, targeted = env.publish("officer-li", "sl",
                                       headline="大预警 %d" % len(published),
                                       text=text)
        assert targeted == receivers
        published.append(aid)
        peak = max(peak, rss_kib(env.daemon.pid))
        if m is None:
            m = cutoff.search(env.daemon.log())
        else:
            after += 1
    print("cut off after %d alerts; wuzhad VmRSS peak %d KiB"
          % (len(published) - AFTER_CUTOFF, peak))
    print(m.group(0))
    queued = int(m.group(1))
    # Cut off at the bound: past it by at most one alert's frame.
    assert MAX_OUTPUT < queued <= MAX_OUTPUT + 64 * 1024, m.group(0)
    limit = rss_limit_kib(env.daemon.pid)
    assert peak < limit, "wuzhad grew to %d KiB" % peak
    assert rss_kib(env.daemon.pid) < limit

    fast.expect(published)
    r = fast.wait_report(lambda r: r["with_all"] == NORMAL, 60,
                         "every reading agent to show every alert")
    assert r["shown_twice"] == 0 and r["failed"] == 0, r
    assert r["reconnects"] == 0, r
    return slow, fast, published



def test_stalled_agent_is_cut_off_at_the_bound_others_get_all(env):
    slow, fast, published = cut_off_slow_agent(env)
    fast_cns = ["fast-%03d" % i for i in range(NORMAL)]

    def settled():
        return all(set(fast_cns) <= set(env.acks(aid)) for aid in published)
    harness.wait_for(settled, 30, "the reading agents' acks to be stored",
                     interval=0.5)
    for aid in published:
        env.assert_rate_matches_acks(aid, "sl")
    assert env.daemon.alive()
    rc, summary = fast.quit()
    assert rc == 0 and summary["ok"], summary


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
