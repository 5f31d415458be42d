# SPDX-License-Identifier: ISC
"""
36-console: the console's rough edges.  wuzhactl's own options (-c FILE,
-t SECONDS, -d) work after the verb as before it.  Every time is printed
in the zone TZ names, with that zone's name (TZ=Asia/Shanghai: CST), and
--json gives ISO 8601 with the offset beside the milliseconds.
templates --json is one document.  An unknown node is answered with the
nearest one the asker may see.  A count of one is singular.  A class
advisor (receive alone) sees its own share of the alerts sent to it.
"""

import datetime
import json
import os
import re
import shutil
import time
import zoneinfo

import harness

TEMPLATES = os.path.join(harness.SRC, "conf", "templates")


def test_config_option_after_the_verb(wz, monkeypatch):
    monkeypatch.setenv("WUZHA_TEMPLATES", TEMPLATES)
    aid, _, _ = wz.publish("desk-a", "school-a-d1")
    conf = wz.client_conf("desk-a")
    ctl = harness.binary("wuzhactl")
    before = wz.run([ctl, "-c", conf, "status", aid])
    assert before.rc == 0, before
    for argv in (["status", "-c", conf, aid], ["status", aid, "-c", conf],
                 ["status", "-c" + conf, "-t", "5", aid],
                 ["status", "--depth", "1", "-c", conf, aid]):
        r = wz.run([ctl] + argv, check=False)
        assert r.rc == 0, r
        if argv[1:3] != ["--depth", "1"]:
            assert r.out == before.out, r
    # Every other network verb, and the file verbs, take it too.
    for argv in (["agents", "-c", conf], ["schedule", "list", "-c", conf],
                 ["pending", aid, "-c", conf], ["templates", "-c", conf],
                 ["report", "-c", conf, "--from", "-1d", "--to", "now"],
                 ["ack", "-c", wz.client_conf("adv-a11"), aid, "read"],
                 ["publish", "-c", conf, "--target", "school-a",
                  "--headline", "后置 -c", "--id", wz.new_id("c")],
                 ["tree", "principals", "-c", conf, wz.tree_path]):
        r = wz.run([ctl] + argv, check=False)
        assert r.rc == 0, r
    # The option's file is the one used: a missing one is said so.
    r = wz.run([ctl, "status", "-c", "/nonexistent/ctl.yaml", aid],
               check=False)
    assert r.rc == 1 and "/nonexistent/ctl.yaml" in r.err, r
    r = wz.run([ctl, "status", aid, "-t", "0"], check=False)
    assert r.rc == 2 and "-t 0: expected seconds" in r.err, r
    # A verb's long option whose letter is c, d or t is still the verb's.
    r = wz.run([ctl, "status", "-c", conf, aid, "--depth", "x"], check=False)
    assert r.rc == 2 and "--depth x" in r.err, r


def _at(wz, monkeypatch, tz, cn, *args):
    monkeypatch.setenv("TZ", tz)
    return wz.ctl(cn, *args)


def _local(ms, tz):
    return datetime.datetime.fromtimestamp(ms / 1000, zoneinfo.ZoneInfo(tz))


def test_times_in_the_local_zone_with_its_name(wz, monkeypatch):
    aid, _, _ = wz.publish("desk-a", "school-a-d1")
    wz.start_agent("adv-a11").wait_shown(aid)
    doc = json.loads(_at(wz, monkeypatch, "UTC", "desk-a", "status", aid,
                         "--json").out)
    issued, expires = doc["issued_at"], doc["expires_at"]
    for tz, name, off in (("Asia/Shanghai", "CST", "+08:00"),
                          ("UTC", "UTC", "+00:00")):
        want = _local(issued, tz).strftime("%Y-%m-%d %H:%M:%S ") + name
        r = _at(wz, monkeypatch, tz, "desk-a", "status", aid)
        assert r.rc == 0, r
        assert " issued %s expires %s" % (want, _local(expires, tz).strftime(
            "%Y-%m-%d %H:%M:%S ") + name) in r.out.splitlines()[0], r
        # --json: ms as before, and ISO 8601 with the offset.
        doc = json.loads(_at(wz, monkeypatch, tz, "desk-a", "status", aid,
                             "--json").out)
        assert doc["issued_at"] == issued, doc
        assert doc["issued"] == _local(issued, tz).strftime(
            "%Y-%m-%dT%H:%M:%S") + off, doc
        assert datetime.datetime.fromisoformat(doc["expires"]).timestamp() \
            == expires // 1000, doc
        # agents: since when, in the same zone.
        r = _at(wz, monkeypatch, tz, "desk-a", "agents")
        line = [l for l in r.out.splitlines() if l.startswith("adv-a11 ")][0]
        assert re.search(r"since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d %s " % name,
                         line), line
        # report: its span, as typed, with the zone.
        r = _at(wz, monkeypatch, tz, "desk-a", "report", "--node", "school-a",
                "--from", "2026-12-01", "--to", "2026-12-02T08:30")
        assert r.rc == 0, r
        assert r.out.startswith("report on school-a from 2026-12-01 00:00 %s "
                                "to 2026-12-02 08:30 %s:" % (name, name)), r
    # schedule: a held alert typed in Beijing time, shown in either zone.
    when = (datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai")) +
            datetime.timedelta(hours=2)).replace(second=0, microsecond=0)
    hid = wz.new_id("held")
    r = _at(wz, monkeypatch, "Asia/Shanghai", "desk-a", "publish", "--target",
            "school-a", "--headline", "定时", "--id", hid, "--at",
            when.strftime("%Y-%m-%dT%H:%M"))
    assert r.rc == 0, r
    assert "scheduled %s for %s CST" % (hid, when.strftime(
        "%Y-%m-%d %H:%M:%S")) in r.out, r
    for tz, name in (("Asia/Shanghai", "CST"), ("UTC", "UTC")):
        r = _at(wz, monkeypatch, tz, "desk-a", "schedule", "list")
        line = [l for l in r.out.splitlines() if l.startswith(hid)][0]
        assert when.astimezone(zoneinfo.ZoneInfo(tz)).strftime(
            "%Y-%m-%d %H:%M:%S ") + name in line, line
        out = json.loads(_at(wz, monkeypatch, tz, "desk-a", "schedule",
                             "list", "--json").out)
        item = [a for a in out["alerts"] if a["id"] == hid][0]
        assert datetime.datetime.fromisoformat(item["publish"]) == when, item
        assert item["publish_at"] == int(when.timestamp()) * 1000, item
    assert wz.ctl("desk-a", "schedule", "cancel", hid).rc == 0


def test_templates_json_is_one_document(env, monkeypatch):
    ctl = harness.binary("wuzhactl")
    monkeypatch.setenv("WUZHA_TEMPLATES", TEMPLATES)
    r = env.run([ctl, "templates", "--json"])
    doc = json.loads(r.out)
    names = sorted(f[:-5] for f in os.listdir(TEMPLATES)
                   if f.endswith(".yaml"))
    assert [t["name"] for t in doc["templates"]] == names, doc
    assert json.loads(env.run([ctl, "templates", names[0], "--json"]).out)[
        "name"] == names[0]
    # A broken template is said on stderr; stdout is still one document.
    d = os.path.join(env.dir, "templates")
    os.mkdir(d)
    for name in names[:2]:
        shutil.copy(os.path.join(TEMPLATES, name + ".yaml"), d)
    with open(os.path.join(d, "zz-broken.yaml"), "w") as f:
        f.write("name: [\n")
    monkeypatch.setenv("WUZHA_TEMPLATES", d)
    r = env.run([ctl, "templates", "--json"], check=False)
    assert r.rc == 1 and "zz-broken.yaml" in r.err, r
    assert [t["name"] for t in json.loads(r.out)["templates"]] == names[:2]


def test_unknown_node_gets_the_nearest_one_suggested(wz):
    # A typo of school-a, wherever a node is named.
    r = wz.publish("officer-li", "schol-a", expect_ok=False)
    assert r.rc == 1, r
    assert r.error() == ("unknown-node", 304, "no such node schol-a; did "
                         "you mean school-a?"), r
    aid, _, _ = wz.publish("desk-a", "school-a-d1")
    for argv in (["status", aid, "--node", "school-a-d1-c3"],
                 ["pending", aid, "--node", "school-a-d1-c3"],
                 ["watch", aid, "--node", "school-a-d1-c3"],
                 ["agents", "--node", "school-a-d1-c3"],
                 ["schedule", "list", "--node", "school-a-d1-c3"],
                 ["report", "--node", "school-a-d1-c3", "--from", "-1d",
                  "--to", "now"]):
        r = wz.ctl("desk-a", *argv)
        assert r.rc == 1, r
        assert r.error() == ("unknown-node", 304, "no such node "
                             "school-a-d1-c3; did you mean school-a-d1-c1?"),\
            r
    # Two edits off, under the department its id starts with.
    r = wz.ctl("desk-a", "agents", "--node", "school-a-d2-cx9")
    assert r.error()[2] == "no such node school-a-d2-cx9; did you mean " \
        "school-a-d2-c1?", r
    # Nothing near, or near only outside the asker's subtree: no hint.
    for cn, node in (("desk-a", "kindergarten-z"), ("desk-b", "schol-a"),
                     ("desk-b", "school-a-d1-c3")):
        r = wz.ctl(cn, "agents", "--node", node)
        assert r.error() == ("unknown-node", 304, "no such node " + node), r


def test_counts_of_one_are_singular(env, notify):
    env.setup(environ={"NOTIFY_SOCKET": notify.path},
              limits={"max_connections_per_address": 1})
    notify.wait("READY=1", timeout=10)
    aid, _, _ = env.publish("desk-a", "school-a-d1-c1")
    since = time.monotonic()
    agent = env.start_agent("adv-a11")
    agent.wait_shown(aid)
    env.daemon.wait_log(r"1 pending alert sent")
    harness.wait_for(lambda: any(
        l.startswith("STATUS=1 agent online, 1 connection, 1 live alert, ")
        for l in notify.lines("STATUS=", since)), 10,
        "STATUS= with one of each", interval=0.1)
    # A second connection from the address is one over its limit of one.
    r = env.ctl("desk-a", "agents")
    assert r.rc == 1, r
    env.daemon.wait_log(r"refusing 127\.0\.0\.1: 1 connection from this "
                        r"address, the limit")
    assert not re.search(r"\b1 (connections|agents|alerts)\b",
                         env.daemon.log()), env.daemon.tail()


def test_an_advisor_sees_its_own_share_of_its_own_alerts(wz):
    aid, _, _ = wz.publish("desk-a", "school-a-d1")
    wz.start_agent("adv-a11").wait_shown(aid)
    assert wz.ctl("adv-a11", "ack", aid, "read").rc == 0
    # status ID: its own class's row alone, with its read.
    r = wz.ctl("adv-a11", "status", aid)
    assert r.rc == 0, r
    rows = [l.split()[0] for l in r.out.splitlines()[2:]]
    assert rows == ["school-a-d1-c1"], r
    doc = json.loads(wz.ctl("adv-a11", "status", aid, "--json").out)
    assert [(n["node"], n["targeted"], n["read"]) for n in doc["nodes"]] \
        == [("school-a-d1-c1", 1, 1)], doc
    assert doc["rows_total"] == 0, doc
    # Its own ack state, and no one else's.
    r = wz.ctl("adv-a11", "pending", aid, "--state", "relayed")
    assert r.rc == 0, r
    assert [l.split()[:2] for l in r.out.splitlines()[:-1]] == \
        [["adv-a11", "read"]], r
    assert "1 of 1 have not relayed" in r.out, r
    # Not the class beside it, nor the department above, nor an alert
    # that did not reach it.
    for node in ("school-a-d1-c2", "school-a-d1"):
        r = wz.ctl("adv-a11", "status", aid, "--node", node)
        assert r.error() == ("forbidden", 201, "adv-a11 may see only its own "
                             "node school-a-d1-c1 (it holds receive without "
                             "observe)"), r
    other, _, _ = wz.publish("desk-a", "school-a-d1-c2")
    for verb in ("status", "pending"):
        r = wz.ctl("adv-a11", verb, other)
        assert r.error() == ("forbidden", 201, "alert %s was not sent to "
                             "adv-a11, which holds receive without observe: "
                             "it sees only the alerts sent to it" % other), r
    # The sibling's advisor sees its own class, not adv-a11's.
    r = wz.ctl("adv-a12", "status", aid, "--json")
    assert [n["node"] for n in json.loads(r.out)["nodes"]] == \
        ["school-a-d1-c2"], r
    # agents and report stay an observer's, and say why.
    for argv in (["agents"], ["report", "--from", "-1d", "--to", "now"]):
        r = wz.ctl("adv-a11", *argv)
        assert r.rc == 1, r
        assert r.error() == ("forbidden", 201, "adv-a11 may not observe: it "
                             "holds receive alone, which shows only its own "
                             "alerts and its own acks (status ID, pending "
                             "ID), not the tree's"), r
