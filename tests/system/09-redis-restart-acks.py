# SPDX-License-Identifier: ISC
"""
09-redis-restart-acks: an ack an agent makes while Redis is gone (wuzhad
answers 501, "send it again") is stored in the end, with no reconnect:
the agent acks again, or wuzhad sends what is still pending once Redis is
back.  rate:{id} then counts every agent.

Not in meson's list yet: neither happens.  wuzha-agent logs the 501 and
drops it; wuzhad sends pending alerts only at HELLO; so the ack stays
missing until the agent reconnects for some other reason.
"""

import importlib.util
import os

import pytest

import harness

_spec = importlib.util.spec_from_file_location(
    "restart09", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "09-redis-restart.py"))
restart09 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(restart09)


# A redis-server of its own (see the env fixture in conftest.py).
PRIVATE_REDIS = True


def test_acks_refused_during_redis_outage_are_stored_after(env):
    swarm, real, published, receivers = restart09.outage(env)
    lost = restart09.refused_acks(env, swarm, real)
    print("acks refused during the outage:", sorted(lost))
    assert lost, "no ack met the outage: nothing checked"

    def settled():
        return all(len(env.acks(aid)) == receivers for aid in published)
    try:
        harness.wait_for(settled, 30, "ack:{id} to hold every agent",
                         interval=0.5)
    finally:
        print("swarm:", swarm.report())
        print("ack:{id} sizes:", {aid: len(env.acks(aid))
                                  for aid in published})
    for aid in published:
        env.assert_rate_matches_acks(aid, "rs")
        assert int(env.stored_alert(aid)["targeted"]) == receivers


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
