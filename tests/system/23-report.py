# SPDX-License-Identifier: ISC
"""
23-report: `wuzhactl report`, the supervision report.  Per node of a
subtree, the sums over the real alerts of a time range equal what
`wuzhactl status --json` shows for each alert (the live counters); drills
are counted only in the drill columns; "in time" and the median time to
read agree with the first times kept in ack:{id}; --csv says the same as
--json; and the refusals (range backwards, another school, too many
alerts) come with their codes.
"""

import csv
import datetime
import io
import json
import time
import unicodedata

import harness
import wuzha_proto as wp

COUNTERS = ("targeted", "delivered", "read", "relayed")
SCHOOL_A = ["desk-a", "liaison-a1", "liaison-a2", "adv-a11", "adv-a12",
            "adv-a21", "adv-a22"]


def utc(ms):
    """ms since the epoch as an ISO time wuzhactl reads exactly (seconds)."""
    return datetime.datetime.fromtimestamp(
        ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def report(env, cn, frm, to, *extra, form="--json"):
    args = ["report", "--from", frm, "--to", to] + list(extra)
    if form:
        args.append(form)
    return env.ctl(cn, *args)


def report_json(env, cn, frm, to, *extra):
    r = report(env, cn, frm, to, *extra)
    assert r.rc == 0, r
    return json.loads(r.out)


def status_nodes(env, aid):
    """{node: counters} of an alert's whole target subtree, from status."""
    r = env.ctl("officer-li", "status", aid, "--json")
    assert r.rc == 0, r
    return {n["node"]: n for n in json.loads(r.out)["nodes"]}


def expected(env, rows, alerts):
    """
    Per report row: the sums of the status counters of alerts (ids with
    their targets), by the report's rule: a row in the target's subtree
    takes its own counters, a row above the target takes the target's.
    """
    tree = env.tree
    statuses = {aid: status_nodes(env, aid) for aid, _ in alerts}
    out = {}
    for row in rows:
        want = {"alerts": 0}
        want.update({c: 0 for c in COUNTERS})
        below = set(tree.subtree(row))
        for aid, target in alerts:
            nodes = statuses[aid]
            if row in nodes:
                src = nodes[row]
            elif target in below:
                src = nodes[target]
            else:
                continue
            want["alerts"] += 1
            for c in COUNTERS:
                want[c] += src[c]
        out[row] = want
    return out


def ack_times(env, aid):
    """{cn: (t1, t2, t3)}: when each state was first reached, from Redis."""
    out = {}
    for cn, v in env.redis.hgetall("ack:" + aid).items():
        parts = v.split(":")
        out[cn] = tuple(int(x) for x in parts[3:6])
    return out


def in_time_and_median(env, row, alerts):
    """
    What the report must say of row for these real alerts, worked out
    from ack:{id} and alert:{id}: agents counted in time per state, and
    the median time from acceptance to read.
    """
    tree = env.tree
    node_of = {p["cn"]: p["node"] for p in tree.principals}
    below = set(tree.subtree(row))
    in_time = [0, 0, 0]
    reads = []
    for aid, target in alerts:
        if row not in tree.subtree(target) and target not in below:
            continue
        meta = env.stored_alert(aid)
        accepted = int(meta["accepted"])
        esc = int(meta.get("escalate") or 0)
        deadline = accepted + esc if esc > 0 else int(meta["expires"])
        under = set(tree.subtree(target))
        for cn, t in ack_times(env, aid).items():
            if node_of[cn] not in below or node_of[cn] not in under:
                continue
            for k in range(3):
                if 0 < t[k] <= deadline:
                    in_time[k] += 1
            if t[1] > 0:
                reads.append(max(0, t[1] - accepted))
    median = None
    if reads:
        reads.sort()
        n = len(reads)
        median = reads[n // 2] if n % 2 else (reads[n // 2 - 1] +
                                              reads[n // 2]) // 2
        median = max(1, median)
    return in_time, median


def ack(env, cn, aid, state, *extra):
    r = env.ctl(cn, "ack", aid, state, *extra)
    assert r.rc == 0, r


def test_report_sums_the_live_counters_and_keeps_drills_apart(wz):
    agents = {cn: wz.start_agent(cn) for cn in SCHOOL_A + ["adv-b11",
                                                             "liaison-b1"]}
    for a in agents.values():
        a.proc.wait_log("connected to", timeout=15)
    start = wp.now_ms() - 2000
    a1, _, _ = wz.publish("officer-li", "jn-police", headline="全市预警")
    a2, _, _ = wz.publish("desk-a", "school-a", headline="本校预警")
    drill, _, _ = wz.publish("officer-li", "jn-police", headline="演练",
                             extra=("--status", "exercise"))
    for aid, cns in ((a1, agents), (drill, agents),
                     (a2, [c for c in agents if c in SCHOOL_A])):
        # Delivered, then shown by each hook: wait for all of it, or a
        # shown ack could land between the report and what it is
        # checked against.
        harness.wait_for(lambda: len(wz.acks(aid)) == len(cns) and all(
            st == wp.ACK_SHOWN for st, _, _ in wz.acks(aid).values()), 15,
            "shown acks for %s" % aid)
    ack(wz, "adv-a11", a1, "read")
    ack(wz, "adv-a11", a2, "read")
    ack(wz, "adv-a12", a1, "relayed", "--reach", "30")
    ack(wz, "liaison-a1", a2, "read")
    ack(wz, "adv-b11", a1, "read")
    ack(wz, "adv-a21", drill, "read")
    ack(wz, "adv-a22", drill, "read")
    ack(wz, "adv-a11", drill, "relayed", "--reach", "40")
    frm, to = utc(start), utc(wp.now_ms() + 60000)

    rep = report_json(wz, "officer-li", frm, to)
    rows = [r["node"] for r in rep["rows"]]
    assert rows == [n["id"] for n in wz.tree.nodes], rows
    assert rep["node"] == "jn-police"
    assert (rep["alerts"], rep["drills"]) == (2, 1), rep
    by = {r["node"]: r for r in rep["rows"]}
    assert by["jn-police"]["parent"] == "" and by["school-a"]["depth"] == 1
    assert by["school-a-d1-c1"]["depth"] == 3
    assert by["jn-police"]["name"] == "济南市公安局反诈中心"

    real = [(a1, "jn-police"), (a2, "school-a")]
    want = expected(wz, rows, real)
    drill_want = expected(wz, rows, [(drill, "jn-police")])
    for node in rows:
        got = by[node]
        for c in ("alerts",) + COUNTERS:
            assert got[c] == want[node][c], (node, c, got, want[node])
            assert got["drill_" + c] == drill_want[node][c], (node, c, got)
        # Nothing here was late: everything read was read in time.
        for c in ("delivered", "read", "relayed"):
            assert got[c + "_in_time"] == got[c], (node, c, got)
        in_time, median = in_time_and_median(wz, node, real)
        assert [got["delivered_in_time"], got["read_in_time"],
                got["relayed_in_time"]] == in_time, (node, got)
        assert got["median_read_ms"] == median, (node, got, median)
    # Spot checks of what the sums mean.
    assert by["school-a"]["alerts"] == 2 and by["school-b"]["alerts"] == 1
    assert by["school-a"]["read"] == 4        # a11 x2, a12, liaison-a1
    assert by["school-a"]["relayed"] == 1
    assert by["school-a-d2"]["read"] == 0
    assert by["school-a-d2"]["drill_read"] == 2
    assert by["school-a-d1-c1"]["drill_relayed"] == 1
    assert by["school-a-d1-c1"]["relayed"] == 0   # the drill relay only
    assert by["school-b-d2"]["median_read_ms"] is None
    # A drill read alone gives no median: school-a-d2 read only the drill.
    assert by["school-a-d2"]["median_read_ms"] is None

    # A report on a node below gives the same rows for its subtree.
    sub = report_json(wz, "officer-li", frm, to, "--node", "school-a")
    assert sub["node"] == "school-a"
    assert (sub["alerts"], sub["drills"]) == (2, 1)
    assert [r["node"] for r in sub["rows"]] == wz.tree.subtree("school-a")
    for r in sub["rows"]:
        want_row = dict(by[r["node"]])
        if r["node"] == "school-a":
            assert r["parent"] == "" and r["depth"] == 0
            want_row.update(parent="", depth=0)
        else:
            want_row["depth"] -= 1
        assert r == want_row, (r, want_row)
    # The desk's own default is its school.
    desk = report_json(wz, "desk-b", frm, to)
    assert desk["node"] == "school-b" and desk["alerts"] == 1
    assert [r["node"] for r in desk["rows"]] == wz.tree.subtree("school-b")

    # CSV: the same numbers, a header, names quoted, UTF-8 without a BOM.
    r = report(wz, "officer-li", frm, to, form="--csv")
    assert r.rc == 0, r
    assert not r.out.startswith("\ufeff") and "\r\n" in r.out
    assert '"济南市公安局反诈中心"' in r.out
    lines = list(csv.DictReader(io.StringIO(r.out, newline="")))
    assert [ln["node"] for ln in lines] == rows
    for ln in lines:
        got = by[ln["node"]]
        assert ln["name"] == got["name"] and ln["parent"] == got["parent"]
        for k in ("alerts", "targeted", "delivered", "read", "relayed",
                  "delivered_in_time", "read_in_time", "relayed_in_time",
                  "drill_alerts", "drill_targeted", "drill_delivered",
                  "drill_read", "drill_relayed"):
            assert int(ln[k]) == got[k], (ln["node"], k, ln, got)
        for k in ("delivered", "read", "relayed", "read_in_time"):
            if got["targeted"]:
                assert abs(float(ln[k + "_pct"]) - 100.0 * got[k] /
                           got["targeted"]) < 0.051, (ln, k)
            else:
                assert ln[k + "_pct"] == ""
        assert ln["median_read_ms"] == ("" if got["median_read_ms"] is None
                                        else str(got["median_read_ms"]))

    # The table: one line per node, the columns after NAME lined up
    # whatever the names' widths (Chinese takes two columns a character).
    r = report(wz, "officer-li", frm, to, form=None)
    assert r.rc == 0, r
    out = r.out.splitlines()
    assert out[0].startswith("report on jn-police from "), out
    assert "2 alerts, 1 drill" in out[0] and "drills" not in out[0]
    assert out[1].startswith("NAME") and "MEDIAN TO READ" in out[1]
    body = out[2:]
    assert len(body) == len(rows)

    def cols(text):
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1
                   for ch in text)
    # Every column is right-aligned in a fixed width after the padded
    # name, so all that comes before NODE is as wide as in the header.
    width = cols(out[1][:out[1].rindex("  NODE")])
    for line, node in zip(body, rows):
        name = by[node]["name"]
        assert line.startswith("  " * by[node]["depth"] + name), line
        assert line.endswith("  " + node), line
        assert cols(line[:line.rindex("  " + node)]) == width, (line, out[1])


def test_late_reads_are_counted_but_not_in_time(env):
    env.setup(limits={"report_alerts": 2})
    adv = env.start_agent("adv-b11")
    adv.proc.wait_log("connected to", timeout=15)
    start = wp.now_ms() - 1000
    t0 = wp.now_ms()
    late, _, _ = env.publish("officer-li", "school-b-d1-c1",
                             extra=("--escalate-after", "1s"))
    adv.wait_shown(late)
    harness.wait_for(lambda: len(env.acks(late)) == 1, 15, "delivered ack")
    # Read after the deadline (acceptance + escalate_after).
    accepted = int(env.stored_alert(late)["accepted"])
    while wp.now_ms() <= accepted + 1200:
        time.sleep(0.05)
    ack(env, "adv-b11", late, "read")
    t1 = wp.now_ms()
    # A range that ends on a whole second after the alert, before the next.
    end_s = wp.now_ms() // 1000 + 1
    frm, to = utc(start), utc(end_s * 1000)
    while wp.now_ms() < end_s * 1000 + 50:
        time.sleep(0.02)

    rep = report_json(env, "officer-li", frm, to)
    assert (rep["alerts"], rep["drills"]) == (1, 0), rep
    by = {r["node"]: r for r in rep["rows"]}
    for node in ("jn-police", "school-b", "school-b-d1", "school-b-d1-c1"):
        row = by[node]
        assert (row["alerts"], row["targeted"], row["delivered"],
                row["read"]) == (1, 1, 1, 1), row
        assert row["delivered_in_time"] == 1, row
        assert row["read_in_time"] == 0, row
        # Read after the deadline, so at least 1.2 s after acceptance, and
        # no later than the ack command returned.
        assert 1200 <= row["median_read_ms"] <= t1 - t0 + 50, (row, t0, t1)
    for node in ("school-a", "school-b-d2", "school-b-d1-c2"):
        assert by[node]["alerts"] == 0 and by[node]["targeted"] == 0
        assert by[node]["median_read_ms"] is None

    # Three alerts in a range while limits.report_alerts is 2: refused,
    # with the count and the limit; the old range still answers.
    for _ in range(2):
        env.publish("officer-li", "school-b")
    late_to = utc(wp.now_ms() + 60000)
    r = report(env, "officer-li", frm, late_to)
    assert r.rc == 1, r
    name, code, text = r.error()
    assert code == 202, r
    assert "3 alerts" in text and "2" in text and "report_alerts" in text, r
    assert report_json(env, "officer-li", frm, to)["alerts"] == 1


def test_refusals_and_dates(wz):
    now = wp.now_ms()
    frm, to = utc(now - 3600000), utc(now + 3600000)
    # from must come before to: 110 from the daemon, exit 1.
    r = report(wz, "officer-li", to, frm)
    assert r.rc == 1, r
    assert r.error()[1:] == (110, "from must be before to"), r
    r = report(wz, "officer-li", frm, frm)
    assert r.rc == 1 and r.error()[1] == 110, r
    r = report(wz, "officer-li", "2025-01-01", "2026-06-01")
    assert r.rc == 1 and r.error()[1] == 110, r
    assert "366 days" in r.error()[2], r
    # A desk may not look at another school; nobody at an unknown node.
    r = report(wz, "desk-a", frm, to, "--node", "school-b")
    assert r.rc == 1 and r.error()[1] == 201, r
    r = report(wz, "officer-li", frm, to, "--node", "no-such-node")
    assert r.rc == 1 and r.error()[1] == 304, r
    # Without observe: 201.
    r = report(wz, "adv-a11", frm, to)
    assert r.rc == 1 and r.error()[1] == 201, r
    # Bad command lines: 2, nothing sent.
    for args in (["report", "--from", frm], ["report", "--to", to],
                 ["report", "--from", "yesterday", "--to", to],
                 ["report", "--from", frm, "--to", to, "--csv", "--json"],
                 ["report", "--from", frm, "--to", to, "extra"]):
        r = wz.ctl("officer-li", *args)
        assert r.rc == 2, r
    # An empty range answers with zeros.
    rep = report_json(wz, "officer-li", frm, to)
    assert (rep["alerts"], rep["drills"]) == (0, 0)
    assert all(r["alerts"] == 0 and r["median_read_ms"] is None
               for r in rep["rows"])
    # A bare date: local midnight for --from, the end of that day for --to.
    day = datetime.date.today()
    rep = report_json(wz, "officer-li", day.isoformat(), day.isoformat())
    midnight = int(time.mktime(day.timetuple())) * 1000
    nxt = day + datetime.timedelta(days=1)
    assert rep["from"] == midnight, rep
    assert rep["to"] == int(time.mktime(nxt.timetuple())) * 1000, rep
    # -DURATION is that long ago.
    rep = report_json(wz, "officer-li", "-1h", "+1m")
    assert abs(rep["from"] - (wp.now_ms() - 3600000)) < 30000
    assert abs(rep["to"] - (wp.now_ms() + 60000)) < 30000
    # Days, and now.
    rep = report_json(wz, "officer-li", "-7d", "now")
    assert abs(rep["from"] - (wp.now_ms() - 7 * 86400000)) < 30000
    assert abs(rep["to"] - wp.now_ms()) < 30000


def test_an_alert_may_last_days(wz):
    aid, _, _ = wz.publish("officer-li", "school-a", extra=("--expires",
                                                            "7d"))
    expires = int(wz.stored_alert(aid)["expires"])
    assert abs(expires - (wp.now_ms() + 7 * 86400000)) < 30000
    r = wz.publish("officer-li", "school-a", extra=("--expires", "7w"),
                   expect_ok=False)
    assert r.rc == 2 and "7w" in r.err, r


def test_rows_past_the_frame_are_left_out_and_counted(env):
    # The 15 rows of the demo tree do not fit in a 1 KiB frame.
    env.setup(limits={"max_frame": 1024, "max_text": 512})
    now = wp.now_ms()
    r = report(env, "officer-li", utc(now - 60000), utc(now + 60000))
    assert r.rc == 0, r
    rep = json.loads(r.out)
    order = [n["id"] for n in env.tree.nodes]
    assert 0 < rep["omitted"] < len(order), rep
    assert [x["node"] for x in rep["rows"]] == \
        order[:len(order) - rep["omitted"]]
    assert "%d more rows not listed" % rep["omitted"] in r.err, r


def test_redis_down_is_501_and_the_daemon_stays_up(private_env):
    env = private_env
    env.setup()
    now = wp.now_ms()
    frm, to = utc(now - 60000), utc(now + 60000)
    env.publish("officer-li", "school-a")
    assert report_json(env, "officer-li", frm, to)["alerts"] == 1
    env.redis_proc.stop()
    env.daemon.wait_log(r"redis: up -> down", timeout=10)
    r = report(env, "officer-li", frm, to)
    assert r.rc == 1 and r.error()[1] == 501, r
    env.start_redis()
    env.import_tree()
    harness.wait_for(lambda: report(env, "officer-li", frm, to).rc == 0, 20,
                     "reports again once Redis is back")
