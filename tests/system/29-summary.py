# SPDX-License-Identifier: ISC
"""
29-summary: status, watch and pending at any node of a tree too large to
show whole, with counters that are sparse and counts of who was targeted
that come from the tree as it was when the alert went out.

The tree: a police unit over four schools of 3 departments of 3 classes,
one advisor per class, and a fifth school of 1,010 nodes and no one in it,
so the unit's subtree (1,064 nodes) is over the 1,000 shown whole.  Acks
are made by the advisors themselves (wuzhactl ack over mutual TLS); every
count shown is checked against ack:{id}, the per-agent states.
"""

import datetime
import json
import re

import harness
import wuzha_proto as wp

SCHOOLS = ("s0", "s1", "s2", "s3")
READ = {"s0": 9, "s1": 3, "s2": 0, "s3": 6}     # advisors who read, per school


def summary_tree():
    t = harness.Tree()
    t.node("pol", "police")
    t.principal("officer", "pol", "issue", "observe")
    for s in SCHOOLS:
        t.node(s, "school", "pol", name="学校" + s)
        t.principal("desk-" + s, s, "observe")
        for d in range(3):
            dept = t.node("%s-d%d" % (s, d), "department", s)
            for c in range(3):
                cls = t.node("%s-c%d" % (dept, c), "class", dept)
                t.principal("adv-%s-%d%d" % (s, d, c), cls, "receive")
    t.node("big", "school", "pol")
    for d in range(10):
        dept = t.node("big-d%d" % d, "department", "big")
        for c in range(100):
            t.node("%s-c%d" % (dept, c), "class", dept)
    return t


def preorder(tree, nid):
    """The subtree as wuzhad walks it: children by id."""
    kids = sorted(n["id"] for n in tree.nodes if n["parent"] == nid)
    out = [nid]
    for k in kids:
        out += preorder(tree, k)
    return out


def utc(ms):
    return datetime.datetime.fromtimestamp(
        ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def advisors(school):
    return ["adv-%s-%d%d" % (school, d, c) for d in range(3) for c in range(3)]


def _setup(env, **opts):
    tree = summary_tree()
    certs = ["officer"] + ["desk-" + s for s in SCHOOLS]
    for s in SCHOOLS:
        certs += advisors(s)
    env.setup(tree=tree, certs=certs, **opts)
    assert len(tree.nodes) == 1064
    aid, _, targeted = env.publish("officer", "pol")
    assert targeted == 36
    for s in SCHOOLS:
        for cn in advisors(s)[:READ[s]]:
            assert env.ctl(cn, "ack", aid, "read").rc == 0, cn
    # Two relay to their classes, in the school that reads least but one.
    assert env.ctl("adv-s3-00", "ack", aid, "relayed", "--reach", "41").rc == 0
    assert env.ctl("adv-s3-01", "ack", aid, "relayed", "--reach", "38").rc == 0
    return tree, aid


def _status(env, cn, aid, *args):
    r = env.ctl(cn, "status", aid, "--json", *args)
    assert r.rc == 0, r
    return [json.loads(line) for line in r.out.splitlines()]


def _want(env, tree, aid):
    """Per node what the acks say: {node: {counter: n}}, targeted too."""
    want = env.rate_from_acks(aid, "pol", tree)
    for n in tree.nodes:
        c = want.setdefault(n["id"], {})
        c["targeted"] = len(tree.receivers(n["id"]))
        for k in ("delivered", "read", "relayed"):
            c.setdefault(k, 0)
    for cn, (state, _, reach) in env.acks(aid).items():
        node = next(p["node"] for p in tree.principals if p["cn"] == cn)
        while node is not None and reach:
            want[node]["reach"] = want[node].get("reach", 0) + reach
            node = tree.parent(node)
    return want


def _check_rows(rows, want):
    for n in rows:
        w = want[n["node"]]
        for k in ("targeted", "delivered", "read", "relayed"):
            assert n[k] == w[k], (n["node"], k, n, w)
        assert n["reach"] == w.get("reach", 0), (n["node"], n, w)


def test_officer_at_the_root_sees_one_line_per_school(private_env):
    env = private_env
    tree, aid = _setup(env)
    # Sparse: counters exist only where someone acked, never per node.
    rate = env.rate(aid)
    assert not any(k.startswith("big") for k in rate), sorted(rate)
    assert not any("targeted" in c for c in rate.values())
    assert len(rate) < 40
    pages = _status(env, "officer", aid)
    assert len(pages) == 1
    doc = pages[0]
    assert doc["depth"] == 1 and doc["rows_total"] == 5, doc
    assert [n["node"] for n in doc["nodes"]] == ["pol", "big"] + list(SCHOOLS)
    _check_rows(doc["nodes"], _want(env, tree, aid))
    assert doc["nodes"][0]["targeted"] == 36
    assert doc["nodes"][0]["read"] == 18
    # The table says how to go further down.
    r = env.ctl("officer", "status", aid)
    assert r.rc == 0, r
    assert "1 level down; --depth N or --node NODE to go further" in r.out
    assert len([l for l in r.out.splitlines() if re.match(r"^  s\d ", l)]) \
        == 4, r.out


def test_worst_read_share_first_and_drill_down(private_env):
    env = private_env
    tree, aid = _setup(env)
    doc = _status(env, "officer", aid, "--sort", "read")[0]
    # s2 0/9, s1 3/9, s3 6/9, s0 9/9, then big, which targeted nobody.
    assert [n["node"] for n in doc["nodes"]] == \
        ["pol", "s2", "s1", "s3", "s0", "big"], doc["nodes"]
    # Two levels, sorted within each parent.
    doc = _status(env, "officer", aid, "--sort", "read", "--depth", "2",
                  "--node", "s1")[0]
    ids = [n["node"] for n in doc["nodes"]]
    assert ids[0] == "s1" and len(ids) == 1 + 3 + 9
    want = _want(env, tree, aid)
    _check_rows(doc["nodes"], want)
    depts = [i for i in ids if re.fullmatch(r"s1-d\d", i)]
    shares = [want[d]["read"] / want[d]["targeted"] for d in depts]
    assert shares == sorted(shares), (depts, shares)
    # A desk sees its own school whole (13 nodes), not the others.
    doc = _status(env, "desk-s3", aid)[0]
    assert doc["depth"] == "all" and doc["rows_total"] == 12
    assert {n["node"] for n in doc["nodes"]} == set(tree.subtree("s3"))
    _check_rows(doc["nodes"], want)
    r = env.ctl("desk-s3", "status", aid, "--node", "s2")
    assert r.rc == 1 and r.error()[:2] == ("forbidden", 201), r
    # Sorting more rows than limits.status_rows allows is refused, saying so.
    env.stop_daemon()
    env.start_daemon(limits={"status_rows": 100})
    r = env.ctl("officer", "status", aid, "--sort", "read", "--depth", "all")
    assert r.rc == 1 and r.error()[:2] == ("too-long", 106), r
    assert "limits.status_rows" in r.error()[2], r
    assert _status(env, "officer", aid, "--sort", "read")[0]["rows_total"] == 5


def test_pages_cover_the_whole_tree_once_in_order(private_env):
    env = private_env
    # Small frames: many pages for rows and for members alike.
    tree, aid = _setup(env, limits={"max_frame": 4096, "max_text": 2000})
    pages = _status(env, "officer", aid, "--depth", "all")
    assert len(pages) > 5, len(pages)
    seen = []
    for p in pages:
        assert p["nodes"][0]["node"] == "pol"
        assert p["rows_offset"] == len(seen)
        assert p["rows_total"] == 1063
        seen += [n["node"] for n in p["nodes"][1:]]
    assert seen == preorder(tree, "pol")[1:]
    want = _want(env, tree, aid)
    for p in pages:
        _check_rows(p["nodes"], want)
    # --offset and --limit: one page from the middle.
    doc = _status(env, "officer", aid, "--depth", "all", "--offset", "100",
                  "--limit", "7")
    assert len(doc) == 1 and doc[0]["rows_offset"] == 100
    assert [n["node"] for n in doc[0]["nodes"][1:]] == seen[100:107]
    # Over the wire: a STATUS_REQ past the end gets the node shown only.
    fs, _ = env.session("officer", role=wp.ROLE_CONSOLE)
    try:
        fs.send_raw(wp.status_req(aid, depth=wp.DEPTH_ALL, offset=5000))
        st = fs.expect(wp.STATUS)
        assert [n["node"] for n in st["nodes"]] == ["pol"]
        assert st["rows_total"] == 1063 and st["rows_offset"] == 5000
        # Members page by page, each with the nodes that lead to it.
        got, off = [], 0
        while True:
            fs.send_raw(wp.status_req(aid, flags=wp.SF_MEMBERS,
                                  member_offset=off))
            st = fs.expect(wp.STATUS)
            assert st["members_total"] == 36
            assert st.get("members_offset", 0) == off
            nodes = {n["node"] for n in st["nodes"]}
            for m in st["members"]:
                node = m["node"]
                while node is not None:
                    assert node in nodes, (m, nodes)
                    node = tree.parent(node)
            got += st["members"]
            off += len(st["members"])
            assert st["members"], st
            if off >= 36:
                break
        assert len(got) > 0 and off == 36
        acks = env.acks(aid)
        assert sorted(m["cn"] for m in got) == tree.receivers("pol")
        assert len({m["cn"] for m in got}) == 36
        for m in got:
            assert m["state"] == (acks[m["cn"]][0] if m["cn"] in acks else 0)
    finally:
        fs.close()
    # pending asks for every page and lists each one once.
    r = env.ctl("officer", "pending", aid)
    assert r.rc == 0, r
    listed = [l.split()[0] for l in r.out.splitlines() if l.startswith("adv-")]
    assert sorted(listed) == sorted(
        cn for s in SCHOOLS for cn in advisors(s)[READ[s]:]), r.out
    assert r.out.rstrip().endswith("18 of 36 have not read (0 of them online "
                                   "now)"), r.out


def test_agents_pages_through_a_large_subtree_and_counts_them_all(
        private_env):
    env = private_env
    tree, _ = _setup(env, limits={"max_frame": 4096, "max_text": 2000})
    fs, _ = env.session("adv-s1-00")
    fs2, _ = env.session("adv-s3-21")
    try:
        r = env.ctl("officer", "agents", "--json")
        assert r.rc == 0, r
        doc = json.loads(r.out)
        cns = [p["cn"] for p in doc["principals"]]
        everyone = sorted(p["cn"] for p in tree.principals)
        assert sorted(cns) == everyone and len(cns) == len(set(cns)), cns
        assert doc["total"] == len(everyone) == 41 and doc["omitted"] == 0
        assert doc["counts"]["online"] == 2, doc["counts"]
        assert doc["counts"]["console"] == 5
        assert doc["counts"]["online"] + doc["counts"]["away"] + \
            doc["counts"]["unreachable"] + doc["counts"]["console"] == 41
        # Over the wire: the first page is short of the whole, and says
        # how many there are and how many are online.
        c, _ = env.session("officer", role=wp.ROLE_CONSOLE)
        try:
            c.send_raw(wp.encode(wp.AGENTS_REQ))
            ag = c.expect(wp.AGENTS)
            assert ag["total"] == 41 and ag["online"] == 2, ag
            assert 0 < len(ag["principals"]) <= 41
            assert ag.get("omitted", 0) == 41 - len(ag["principals"])
        finally:
            c.close()
        r = env.ctl("officer", "agents")
        assert r.rc == 0, r
        assert re.search(r"^2 online, 0 away, 34 unreachable", r.out, re.M), \
            r.out[-400:]
        assert "not listed" not in r.out
    finally:
        fs.close()
        fs2.close()


def test_a_tree_change_leaves_earlier_alerts_their_targets(private_env):
    env = private_env
    tree, aid = _setup(env)
    before = _status(env, "officer", aid, "--depth", "all")
    # Move an advisor from s1 to s2, add one to s0, drop a class of s3 with
    # its advisor (who had not read).
    t2 = summary_tree()
    for p in t2.principals:
        if p["cn"] == "adv-s1-22":
            p["node"] = "s2-d0-c0"
    t2.principal("adv-s0-new", "s0-d0-c0", "receive")
    t2.nodes = [n for n in t2.nodes if n["id"] != "s3-d2-c2"]
    t2.principals = [p for p in t2.principals if p["cn"] != "adv-s3-22"]
    env.set_tree(t2)
    r = env.run([harness.binary("wuzhactl"), "tree", "import", env.tree_path,
                 "--redis", env.redis_sock, "--prefix", env.prefix])
    assert "earlier alerts keep the counts they targeted" in r.out, r
    gen = int(env.redis.get("tree-gen"))
    env.daemon.wait_log(r"tree: generation %d:" % gen, timeout=15)
    was = env.redis.hgetall("tree-was:%d" % (gen - 1))
    assert was == {"s0-d0-c0": "1", "s0-d0": "3", "s0": "9", "s1-d2-c2": "1",
                   "s1-d2": "3", "s1": "9", "s2-d0-c0": "1", "s2-d0": "3",
                   "s2": "9", "s3-d2-c2": "1", "s3-d2": "3", "s3": "9"}, was
    # (pol gained one and lost one: unchanged, not recorded.)
    # The earlier alert: the counts it targeted, for every node still there.
    after = _status(env, "officer", aid, "--depth", "all")
    old = {n["node"]: n for p in before for n in p["nodes"]}
    for p in after:
        for n in p["nodes"]:
            assert n == old[n["node"]], (n, old[n["node"]])
    # A new one: the tree of now.
    aid2, _, targeted = env.publish("officer", "pol")
    assert targeted == 36
    doc = _status(env, "officer", aid2)[0]
    counts = {n["node"]: n["targeted"] for n in doc["nodes"]}
    assert counts == {"pol": 36, "s0": 10, "s1": 8, "s2": 10, "s3": 8,
                      "big": 0}, counts
    # The report adds them up as each alert had them: at the unit one row
    # per school (its subtree is over 1,000 nodes), then drilling down.
    frm, to = utc(wp.now_ms() - 3600000), utc(wp.now_ms() + 60000)

    def report(node=None, *extra):
        r = env.ctl("officer", "report", "--from", frm, "--to", to,
                    "--json", *(("--node", node) if node else ()), *extra)
        assert r.rc == 0, r
        doc = json.loads(r.out)
        return doc, {x["node"]: x for x in doc["rows"]}
    doc, rows = report()
    assert doc["depth"] == 1 and "omitted" not in doc, doc
    assert [x["node"] for x in doc["rows"]] == ["pol", "big"] + list(SCHOOLS)
    assert rows["pol"]["targeted"] == 72 and rows["big"]["targeted"] == 0
    for s, n in (("s0", 19), ("s1", 17), ("s2", 19), ("s3", 17)):
        assert rows[s]["targeted"] == n, (s, rows[s])
        assert rows[s]["alerts"] == 2
        own = report(s)[1][s]
        assert {k: v for k, v in own.items() if k not in ("parent", "depth")} \
            == {k: v for k, v in rows[s].items()
                if k not in ("parent", "depth")}, (own, rows[s])
    assert report("s2-d0")[1]["s2-d0"]["targeted"] == 3 + 4
    assert report("s1")[1]["s1-d2-c2"]["targeted"] == 1  # one then, none now
    assert "s3-d2-c2" not in report("s3")[1]
    # Read in time at a school, from the acks: the same at any depth.
    deep = report(None, "--depth", "2")[1]
    for s in SCHOOLS:
        for k in ("read", "read_in_time", "delivered", "relayed"):
            assert deep[s][k] == rows[s][k], (s, k)
    assert rows["pol"]["read"] == 18 and rows["s0"]["read"] == 9


def test_report_of_an_alert_below_the_rows_counts_it_at_its_school(
        private_env):
    env = private_env
    tree, _ = _setup(env)
    aid, _, targeted = env.publish("officer", "s2-d1-c2")
    assert targeted == 1
    assert env.ctl("adv-s2-12", "ack", aid, "read").rc == 0
    frm, to = utc(wp.now_ms() - 3600000), utc(wp.now_ms() + 60000)
    r = env.ctl("officer", "report", "--from", frm, "--to", to, "--json")
    assert r.rc == 0, r
    rows = {x["node"]: x for x in json.loads(r.out)["rows"]}
    # The class is three levels below the rows: it counts at s2 and up.
    assert rows["s2"]["alerts"] == 2 and rows["s2"]["targeted"] == 10
    assert rows["s2"]["read"] == 1 and rows["s2"]["read_in_time"] == 1
    assert rows["s1"]["alerts"] == 1 and rows["s1"]["targeted"] == 9
    assert rows["pol"]["alerts"] == 2 and rows["pol"]["targeted"] == 37
    assert rows["pol"]["read"] == 19


def province_tree():
    """A province's department over two cities' (police under police)."""
    t = harness.Tree()
    t.node("sd", "police", name="省公安厅")
    t.principal("prov-officer", "sd", "issue", "observe")
    for city in ("jn", "qd"):
        t.node(city, "police", "sd", name=city + "市公安局")
        t.principal("officer-" + city, city, "issue", "observe")
        for s in range(2):
            school = t.node("%s-s%d" % (city, s), "school", city)
            dept = t.node(school + "-d0", "department", school)
            for c in range(2):
                cls = t.node("%s-c%d" % (dept, c), "class", dept)
                t.principal("adv-%s-%d%d" % (city, s, c), cls, "receive")
    return t


def test_the_officer_at_a_province_root_sees_each_city(private_env):
    env = private_env
    tree = province_tree()
    env.setup(tree=tree)
    aid, _, targeted = env.publish("prov-officer", "sd")
    assert targeted == 8
    for cn in ("adv-jn-00", "adv-jn-01", "adv-jn-10", "adv-qd-00"):
        assert env.ctl(cn, "ack", aid, "read").rc == 0, cn
    # An advisor's certificate carries its whole path, province first.
    fs, w = env.session("adv-qd-11")
    fs.close()
    doc = _status(env, "prov-officer", aid, "--depth", "1", "--sort",
                  "read")[0]
    assert [(n["node"], n["read"], n["targeted"]) for n in doc["nodes"]] == \
        [("sd", 4, 8), ("qd", 1, 4), ("jn", 3, 4)], doc["nodes"]
    assert doc["nodes"][1].get("depth") == 1
    # The whole tree, with depths the console indents by.
    doc = _status(env, "prov-officer", aid, "--depth", "all")[0]
    depth = {n["node"]: n["depth"] for n in doc["nodes"]}
    assert depth["sd"] == 0 and depth["jn"] == 1 and depth["jn-s0"] == 2
    assert depth["jn-s0-d0-c1"] == 4
    _check_rows(doc["nodes"], _want_at(env, tree, aid, "sd"))
    # A city's officer sees only the city.
    doc = _status(env, "officer-jn", aid)[0]
    assert doc["nodes"][0]["node"] == "jn" and doc["nodes"][0]["read"] == 3
    r = env.ctl("officer-jn", "status", aid, "--node", "qd")
    assert r.rc == 1 and r.error()[:2] == ("forbidden", 201), r
    # pending, the report and a watch at the province.
    r = env.ctl("prov-officer", "pending", aid)
    assert r.rc == 0 and "4 of 8 have not read" in r.out, r
    frm, to = utc(wp.now_ms() - 3600000), utc(wp.now_ms() + 60000)
    r = env.ctl("prov-officer", "report", "--from", frm, "--to", to,
                "--depth", "1", "--json")
    assert r.rc == 0, r
    rows = {x["node"]: x for x in json.loads(r.out)["rows"]}
    assert set(rows) == {"sd", "jn", "qd"}
    assert rows["sd"]["read"] == 4 and rows["jn"]["read"] == 3
    assert rows["qd"]["targeted"] == 4 and rows["qd"]["alerts"] == 1
    # Once all have read, a watch shows its one tree and ends with 0.
    for cn in ("adv-jn-11", "adv-qd-01", "adv-qd-10", "adv-qd-11"):
        assert env.ctl(cn, "ack", aid, "read").rc == 0, cn
    r = env.ctl("prov-officer", "watch", aid, "--depth", "1", "--json",
                timeout=15)
    assert r.rc == 0, r
    first = json.loads(r.out.splitlines()[0])
    assert [(n["node"], n["read"]) for n in first["nodes"]] == \
        [("sd", 8), ("jn", 4), ("qd", 4)], first["nodes"]


def _want_at(env, tree, aid, target):
    want = env.rate_from_acks(aid, target, tree)
    for n in tree.nodes:
        c = want.setdefault(n["id"], {})
        c["targeted"] = len(tree.receivers(n["id"]))
        for k in ("delivered", "read", "relayed"):
            c.setdefault(k, 0)
    return want
