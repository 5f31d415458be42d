# SPDX-License-Identifier: ISC
"""
51-report-verified: `wuzhactl report --verified` counts each row's
acknowledgements again from the audit log (the agents' signed receipts,
placed by their certificates' wuzha:path:) and says whether the report
agrees.

- A real run (real agents in two schools, acks delivered and shown by the
  agents, read and relayed from wuzhactl, a drill): every row agrees, in
  the table, JSON and CSV forms, and the log's counts are the report's.
- A counter changed in Redis (the report lies about school-a): that row
  differs, named in the table, exit 1.
- A byte of a receipt changed in the log: the log is not sound, the
  report is not backed, exit 1, the first bad entry named.
- A school desk may not read the whole log (201); with a copy of the
  log (the daemon's mirror file) it checks its own school.
"""

import datetime
import json
import os
import time

import harness
import wuzha_proto as wp

PRIVATE_REDIS = True
AGENTS = ["desk-a", "adv-a11", "adv-a12", "adv-a21", "liaison-a1",
          "adv-b11", "adv-b21"]


def utc(ms):
    return datetime.datetime.fromtimestamp(
        ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def settle(env, timeout=20):
    """Wait until the audit log stops growing (acks still on their way)."""
    key = env.prefix + "audit:log"
    last, since = -1, time.monotonic()
    deadline = since + timeout
    while time.monotonic() < deadline:
        n = int(env.redis.cmd("LLEN", key))
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= 1.5:
            return n
        time.sleep(0.1)
    raise AssertionError("the audit log kept growing")


def run(env):
    env.mirror = os.path.join(env.dir, "audit.log")
    env.setup(top={"audit": '{file: "%s", checkpoint_every: 5, '
                            'checkpoint_interval: "1s"}' % env.mirror})
    agents = {cn: env.start_agent(cn) for cn in AGENTS}
    for a in agents.values():
        a.proc.wait_log("connected to", timeout=15)
    start = wp.now_ms() - 2000
    a1, _, _ = env.publish("officer-li", "jn-police", headline="全市预警")
    a2, _, _ = env.publish("desk-a", "school-a", headline="本校预警")
    drill, _, _ = env.publish("officer-li", "jn-police", headline="演练",
                              extra=("--status", "exercise"))
    school_a = [c for c in AGENTS if "-a" in c]
    for aid, cns in ((a1, AGENTS), (drill, AGENTS), (a2, school_a)):
        harness.wait_for(lambda: len(env.acks(aid)) == len(cns) and all(
            st == wp.ACK_SHOWN for st, _, _ in env.acks(aid).values()), 20,
            "shown acks for %s" % aid)
    for cn, aid, st, extra in (("adv-a11", a1, "read", ()),
                               ("adv-a11", a2, "read", ()),
                               ("adv-a12", a1, "relayed", ("--reach", "30")),
                               ("liaison-a1", a2, "read", ()),
                               ("adv-b11", a1, "read", ()),
                               ("adv-a21", drill, "read", ())):
        r = env.ctl(cn, "ack", aid, st, *extra)
        assert r.rc == 0, r
    settle(env)
    return a1, a2, drill, utc(start), utc(wp.now_ms() + 60000)


def report(env, cn, frm, to, *extra):
    return env.ctl(cn, "report", "--from", frm, "--to", to, "--depth",
                   "all", "--verified", *extra)


def test_every_row_agrees_with_the_log(env):
    a1, a2, drill, frm, to = run(env)
    r = report(env, "officer-li", frm, to, "--json")
    assert r.rc == 0, r
    rep = json.loads(r.out)
    assert rep["audit"]["ok"] and rep["audit"]["mismatched"] == 0, rep
    assert rep["audit"]["alerts"] == 3, rep["audit"]
    assert rep["audit"]["receipts"] > 0 and rep["audit"]["orphans"] == 0
    by = {row["node"]: row for row in rep["rows"]}
    assert by["school-a"]["read"] == 4 and by["school-a"]["relayed"] == 1
    for row in rep["rows"]:
        log = row["log"]
        assert log["ok"], row
        for c in ("delivered", "shown", "read", "relayed"):
            assert log[c] == row[c], (row["node"], c, row)
            assert log["drill_" + c] == row["drill_" + c], (row["node"], c)
    # a1 to everyone, a2 to school-a's five.
    assert by["jn-police"]["log"]["delivered"] == len(AGENTS) + 5
    assert by["school-a-d2"]["log"]["drill_read"] == 1

    r = report(env, "officer-li", frm, to)
    assert r.rc == 0, r
    assert "every row agrees" in r.out, r.out
    assert " LOG" in r.out.splitlines()[1], r.out
    r = report(env, "officer-li", frm, to, "--csv")
    assert r.rc == 0, r
    lines = r.out.split("\r\n")
    head = lines[0].split(",")
    assert head[-5:] == ["log_ok", "log_delivered", "log_shown",
                         "log_read", "log_relayed"], head
    assert all(ln.split(",")[-5] == "1" for ln in lines[1:] if ln), r.out

    # A report on one school, from a copy of the log: the desk may not
    # read the log itself, but can check its school against a copy.
    r = report(env, "desk-a", frm, to, "--node", "school-a")
    assert r.rc != 0 and "could not be read" in r.err, r
    harness.wait_for(lambda: os.path.exists(env.mirror) and
                     len(wp.audit_file_records(env.mirror)) > 0, 15,
                     "the mirror file")
    copy = os.path.join(env.dir, "copy.log")
    harness.wait_for(lambda: sum(1 for t, _ in wp.audit_file_records(
        env.mirror) if t == 1) == int(env.redis.cmd(
            "LLEN", env.prefix + "audit:log")), 15, "the mirror to catch up")
    with open(env.mirror, "rb") as f, open(copy, "wb") as g:
        g.write(f.read())
    r = report(env, "desk-a", frm, to, "--node", "school-a", "--json",
               "--audit-file", copy)
    assert r.rc == 0, r
    sub = json.loads(r.out)
    assert sub["node"] == "school-a" and sub["audit"]["ok"], sub
    assert all(row["log"]["ok"] for row in sub["rows"]), sub


def test_a_counter_changed_in_redis_is_found(env):
    a1, a2, drill, frm, to = run(env)
    # The report now says one more read at school-a than anyone signed.
    env.redis.cmd("HINCRBY", env.prefix + "rate:" + a2, "school-a:read", 1)
    r = report(env, "officer-li", frm, to)
    assert r.rc == 1, r
    assert "school-a: the report says" in r.out, r.out
    assert "some rows DIFFER" in r.out, r.out
    lines = {ln.split()[-2]: ln.split()[-1] for ln in r.out.splitlines()
             if ln.endswith(" ok") or ln.endswith(" DIFFERS")}
    assert lines["school-a"] == "DIFFERS" and lines["school-b"] == "ok", \
        lines
    assert lines["jn-police"] == "DIFFERS", lines   # counts up the path
    r = report(env, "officer-li", frm, to, "--json")
    assert r.rc == 1, r
    rep = json.loads(r.out)
    by = {row["node"]: row for row in rep["rows"]}
    assert not by["school-a"]["log"]["ok"]
    assert by["school-a"]["read"] == by["school-a"]["log"]["read"] + 1


def test_a_changed_receipt_makes_the_report_unbacked(env):
    run(env)
    key = env.prefix + "audit:log"
    entries = [bytes(x) for x in env.redis.cmd("LRANGE", key, 0, -1)]
    idx = [i for i, e in enumerate(entries)
           if wp.audit_entry_parse(e)["kind"] == 2][3]
    e = bytearray(entries[idx])
    e[-70] ^= 0x01          # inside the receipt's body or signature
    env.redis.cmd("LSET", key, idx, bytes(e))
    r = report(env, "officer-li", utc(wp.now_ms() - 3600000),
               utc(wp.now_ms() + 60000))
    assert r.rc == 1, r
    assert "not sound" in r.err and "first bad entry %d (receipt)" % idx \
        in r.err, r
    assert r.out == "", r
