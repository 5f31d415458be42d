# SPDX-License-Identifier: ISC
"""
10-slow-resync: after 10-slow's cut-off, the slow agent reads again,
reconnects, and gets everything that stayed pending for it, each alert
shown once; in the end ack:{id} holds every agent and rate:{id} agrees.

Not in meson's list yet: wuzhad writes the whole pending backlog into the
connection at once when the agent says HELLO (sync_done_cb), so a backlog
larger than limits.max_output cuts the agent off again at once, however
fast it reads; it never catches up.
"""

import importlib.util
import os

import pytest

import harness

_spec = importlib.util.spec_from_file_location(
    "slow10", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "10-slow.py"))
slow10 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(slow10)


# A redis-server of its own (see the env fixture in conftest.py).
PRIVATE_REDIS = True


def test_slow_agent_gets_everything_pending_when_it_reads_again(env):
    slow, fast, published = slow10.cut_off_slow_agent(env)
    receivers = slow10.NORMAL + 1

    # The slow agent reads again: what its socket still held, then the
    # close, then a new connection that brings the rest, in order.
    slow.expect(published)
    slow.say("unstall")
    r = slow.wait_report(lambda r: r["with_all"] == 1, 60,
                         "the slow agent to get every alert")
    print("slow:", r)
    assert r["shown_twice"] == 0 and r["failed"] == 0, r
    assert r["reconnects"] >= 1, r

    def settled():
        return all(len(env.acks(aid)) == receivers for aid in published)
    harness.wait_for(settled, 30, "ack:{id} to hold every agent",
                     interval=0.5)
    for aid in published:
        env.assert_rate_matches_acks(aid, "sl")
    assert env.daemon.alive()

    for sw in (slow, fast):
        rc, summary = sw.quit()
        assert rc == 0 and summary["ok"], summary


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
