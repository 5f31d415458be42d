# SPDX-License-Identifier: ISC
"""
37-hook-retry: a hook that fails is run again after a backoff, with its
alert kept at the head of the queue.  A hook failing twice and then
working is run three times, the second delay about twice the first, both
from hook_retry in agent.yaml; each failure is logged with its attempt and
next delay; the alert, delivered once verified, is acknowledged as shown
only after the run that worked, and an alert published behind it is
handed over after it, not before.  A hook
that keeps failing does not hold up a stop: SIGTERM ends the agent
promptly, whether the hook is between runs or running.
"""

import os
import re
import signal
import time

import harness
import wuzha_proto as wp

CN = "adv-a11"                 # an advisor of school-a in the demo tree
RETRY_MIN_MS = 200
RETRY_MAX_MS = 2000

# Appends "RUN ID TIME" to a log, then fails the first $FAILS runs of
# each alert (counted in a file per alert).
COUNT_HOOK = r'''#!/bin/sh
set -eu
dir=$1
fails=$2
n=$(cat "$dir/count-$WUZHA_ID" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" >"$dir/count-$WUZHA_ID"
echo "$n $WUZHA_ID $(date +%s.%N)" >>"$dir/runs"
if [ -n "${3:-}" ]; then sleep "$3"; fi
[ "$n" -gt "$fails" ]
'''


def agent_with_hook(wz, fails, retry=True, name="agent-retry",
                    extra=(), sleep=""):
    """An agent for CN whose hook fails the first `fails` runs of each
    alert (after sleeping `sleep` seconds); returns (agent, runs file)."""
    hdir = os.path.join(wz.dir, name)
    os.makedirs(hdir, exist_ok=True)
    script = os.path.join(hdir, "hook.sh")
    with open(script, "w") as f:
        f.write(COUNT_HOOK)
    conf = wz.client_conf(CN, name=name,
                          hook="/bin/sh %s %s %d %s" % (script, hdir, fails,
                                                      sleep),
                          state=os.path.join(hdir, "state"))
    with open(conf, "a") as f:
        if retry:
            f.write("hook_retry:\n  min: %dms\n  max: %dms\n"
                    % (RETRY_MIN_MS, RETRY_MAX_MS))
        for line in extra:
            f.write(line + "\n")
    return wz.start_agent(CN, conf=conf), os.path.join(hdir, "runs")


def runs(path, alert_id=None):
    """[(n, id, time)] of the hook's runs, oldest first."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for ln in lines:
        n, aid, t = ln.split()
        if alert_id is None or aid == alert_id:
            out.append((int(n), aid, float(t)))
    return out


def shown(wz, alert_id):
    """Has CN's agent acknowledged alert_id as shown?"""
    ack = wz.acks(alert_id).get(CN)
    return ack is not None and ack[0] == wp.ACK_SHOWN


def test_failing_hook_is_retried_with_backoff_then_shown(wz):
    agent, path = agent_with_hook(wz, fails=2)
    aid, _, _ = wz.publish("officer-li", "school-a")
    harness.wait_for(lambda: len(runs(path, aid)) >= 1, 15,
                     "the hook's first run")
    m = agent.proc.wait_log(r"alert %s seq \d+: .*\(attempt 1\); trying "
                            r"again in (\d+) ms" % re.escape(aid))
    # wuzha-agent must hand hook_retry to the hook module
    # (agent_hook_set_retry); without it the default 5 s is used.
    assert int(m.group(1)) == RETRY_MIN_MS, \
        ("hook_retry.min is %d ms in agent.yaml, the agent waits %s ms: "
         "does agent.c call agent_hook_set_retry?" % (RETRY_MIN_MS,
                                                      m.group(1)))
    assert not shown(wz, aid)
    # Published while the first is failing: it must wait its turn.
    later, _, _ = wz.publish("officer-li", "school-a")
    harness.wait_for(lambda: len(runs(path, aid)) >= 3, 30,
                     "the hook's third run of %s" % aid)
    harness.wait_for(lambda: shown(wz, aid), 15,
                     "the shown ack of %s after the hook worked" % aid)
    harness.wait_for(lambda: shown(wz, later), 15,
                     "the shown ack of %s" % later)

    mine = runs(path, aid)
    assert [r[0] for r in mine] == [1, 2, 3], mine
    d1, d2 = mine[1][2] - mine[0][2], mine[2][2] - mine[1][2]
    log = agent.log()
    delays = [int(m.group(2)) for m in re.finditer(
        r"alert %s seq \d+: hook failed with exit status 1 \(attempt (\d)\);"
        r" trying again in (\d+) ms" % re.escape(aid), log)]
    assert delays == [RETRY_MIN_MS, 2 * RETRY_MIN_MS], \
        ("the agent did not back off from hook_retry.min = %d ms "
         "(logged delays %r, gaps %.3fs %.3fs); is agent_hook_set_retry "
         "given the configuration?\n%s"
         % (RETRY_MIN_MS, delays, d1, d2, agent.proc.tail()))
    assert "attempt 1)" in log and "attempt 2)" in log
    # The delays as run: at least the backoff, well under its next step.
    assert RETRY_MIN_MS / 1000 * 0.9 <= d1 < 2.0, (d1, d2)
    assert 2 * RETRY_MIN_MS / 1000 * 0.9 <= d2 < 3.0, (d1, d2)
    assert d2 > d1 * 1.4, (d1, d2)
    assert re.search(r"alert %s seq \d+: handed over at attempt 3"
                     % re.escape(aid), log), agent.proc.tail()

    # The later alert (its hook fails twice too) was not run before the
    # first was handed over.
    first_ok = mine[2][2]
    other = runs(path, later)
    assert other and other[0][2] >= first_ok, (mine, other)


def test_hook_that_keeps_failing_does_not_block_stop(wz):
    agent, path = agent_with_hook(wz, fails=1000)
    aid, _, _ = wz.publish("officer-li", "school-a")
    harness.wait_for(lambda: len(runs(path, aid)) >= 2, 15,
                     "two failed runs")
    # Delivered (verified and kept), never shown.
    harness.wait_for(lambda: CN in wz.acks(aid), 10, "the delivered ack")
    assert wz.acks(aid)[CN][0] == wp.ACK_DELIVERED
    t0 = time.monotonic()
    rc = agent.stop(signal.SIGTERM)
    took = time.monotonic() - t0
    assert rc == 0, agent.proc.tail()
    assert took < 3.0, "SIGTERM took %.1fs to stop the agent" % took
    n = len(runs(path, aid))
    time.sleep(2 * RETRY_MAX_MS / 1000)
    assert len(runs(path, aid)) == n, "the hook ran after the agent stopped"


def test_stop_while_waiting_for_a_long_retry_is_prompt(wz):
    # The default backoff (5 s first): the agent is stopped in the middle
    # of it, and must not wait it out.
    agent, path = agent_with_hook(wz, fails=1000, retry=False)
    aid, _, _ = wz.publish("officer-li", "school-a")
    harness.wait_for(lambda: len(runs(path, aid)) >= 1, 15, "a failed run")
    agent.proc.wait_log(r"trying again in 5000 ms", timeout=10)
    t0 = time.monotonic()
    rc = agent.stop(signal.SIGTERM)
    assert rc == 0, agent.proc.tail()
    assert time.monotonic() - t0 < 3.0
    assert len(runs(path, aid)) == 1


def test_stop_while_a_failing_hook_runs_is_prompt(wz):
    agent, path = agent_with_hook(wz, fails=1000, sleep="30",
                                  extra=["hook_timeout: 60s"])
    aid, _, _ = wz.publish("officer-li", "school-a")
    harness.wait_for(lambda: len(runs(path, aid)) >= 1, 15, "a run")
    t0 = time.monotonic()
    rc = agent.stop(signal.SIGTERM)
    assert rc == 0, agent.proc.tail()
    assert time.monotonic() - t0 < 3.0
    assert "stopping its hook" in agent.log()
