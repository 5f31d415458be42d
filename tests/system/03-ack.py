# SPDX-License-Identifier: ISC
"""
03-ack: delivered / read / relayed acknowledgements, the per-node counters
in rate:{id} and in `wuzhactl status --json`, `pending`, and the refusals
(backwards, not addressed, unknown alert).
"""

import json

import pytest

import harness
import wuzha_proto as wp

SCHOOL_A = ["desk-a", "liaison-a1", "liaison-a2", "adv-a11", "adv-a12",
            "adv-a21", "adv-a22"]


@pytest.fixture
def delivered(wz):
    """An alert to school-a delivered to every agent there but liaison-a2,
    and shown by each one's hook (which worked)."""
    agents = {cn: wz.start_agent(cn) for cn in SCHOOL_A if cn != "liaison-a2"}
    aid, _, targeted = wz.publish("officer-li", "school-a",
                                  extra=["--relay-required"])
    assert targeted == 7
    for a in agents.values():
        a.wait_shown(aid)
    harness.wait_for(lambda: len(wz.acks(aid)) == 6 and all(
        st == wp.ACK_SHOWN for st, _, _ in wz.acks(aid).values()), 15,
        "6 shown acks in ack:%s" % aid)
    return wz, aid


def _counter(wz, aid, node, name):
    return wz.rate(aid).get(node, {}).get(name, 0)


def test_agents_ack_delivered_then_shown_after_the_hook(delivered):
    wz, aid = delivered
    acks = wz.acks(aid)
    assert sorted(acks) == sorted(set(SCHOOL_A) - {"liaison-a2"})
    for cn, (state, ms, reach) in acks.items():
        assert state == wp.ACK_SHOWN, cn
        assert abs(ms - wp.now_ms()) < 120_000
        assert reach is None
    rate = wz.rate(aid)
    assert rate["school-a"]["delivered"] == 6
    assert rate["school-a"]["shown"] == 6
    assert rate["school-a-d2"]["delivered"] == 2   # liaison-a2 offline
    assert rate["school-a-d1"]["delivered"] == 3
    assert rate["school-a-d1-c1"]["delivered"] == 1
    # Counters only: what each node targeted comes from the tree.
    assert not any("targeted" in c for c in rate.values()), rate
    assert rate["school-a-d1-c1"].get("read", 0) == 0
    # Nothing is counted above the target.
    assert "jn-police" not in rate


def test_read_ack_moves_counters_at_class_department_and_school(delivered):
    wz, aid = delivered
    r = wz.ctl("adv-a11", "ack", aid, "read")
    assert r.rc == 0, r
    state, _, _ = wz.acks(aid)["adv-a11"]
    assert state == wp.ACK_READ
    for node in ("school-a-d1-c1", "school-a-d1", "school-a"):
        assert _counter(wz, aid, node, "read") == 1, node
    assert _counter(wz, aid, "school-a-d1-c2", "read") == 0
    assert _counter(wz, aid, "school-a-d2", "read") == 0
    # Read is cumulative over delivered: delivered does not move.
    assert _counter(wz, aid, "school-a", "delivered") == 6


def test_relayed_ack_with_reach_40_counts_reach_up_to_the_school(delivered):
    wz, aid = delivered
    r = wz.ctl("adv-a12", "ack", aid, "relayed", "--reach", "40")
    assert r.rc == 0, r
    state, _, reach = wz.acks(aid)["adv-a12"]
    assert (state, reach) == (wp.ACK_RELAYED, 40)
    for node in ("school-a-d1-c2", "school-a-d1", "school-a"):
        c = wz.rate(aid)[node]
        assert (c["read"], c["relayed"], c["reach"]) == (1, 1, 40), (node, c)
    r = wz.ctl("adv-a21", "ack", aid, "relayed", "--reach", "35")
    assert r.rc == 0, r
    school = wz.rate(aid)["school-a"]
    assert (school["relayed"], school["reach"]) == (2, 75)
    assert wz.rate(aid)["school-a-d2"]["reach"] == 35
    assert wz.rate(aid)["school-a-d1"]["reach"] == 40


def test_read_by_principal_never_delivered_counts_as_delivered(delivered):
    wz, aid = delivered
    r = wz.ctl("liaison-a2", "ack", aid, "read")
    assert r.rc == 0, r
    assert wz.acks(aid)["liaison-a2"][0] == wp.ACK_READ
    assert _counter(wz, aid, "school-a", "delivered") == 7
    assert _counter(wz, aid, "school-a-d2", "delivered") == 3
    assert _counter(wz, aid, "school-a-d2", "read") == 1


def test_acks_never_go_backwards(delivered):
    wz, aid = delivered
    assert wz.ctl("adv-a22", "ack", aid, "relayed", "--reach", "30").rc == 0
    before = wz.rate(aid)
    r = wz.ctl("adv-a22", "ack", aid, "read")
    assert r.rc == 1, r
    assert r.error()[:2] == ("ack-backwards", wp.E_BACKWARDS), r
    assert wz.acks(aid)["adv-a22"][0] == wp.ACK_RELAYED
    assert wz.acks(aid)["adv-a22"][2] == 30
    assert wz.rate(aid) == before
    # Over the wire: read after relayed is refused the same way; an
    # automatic delivered (an agent re-acknowledging a duplicate) is
    # answered with the state stored, which stays relayed.
    fs, _ = wz.session("adv-a22", role=wp.ROLE_CONSOLE)
    try:
        fs.send_raw(wp.ack(aid, wp.ACK_READ))
        t, msg = fs.recv(10)
        assert t == wp.ERROR and msg["code"] == wp.E_BACKWARDS, (t, msg)
        assert msg.get("ref", aid) == aid
        fs.send_raw(wp.ack(aid, wp.ACK_DELIVERED))
        t, msg = fs.recv(10)
        assert t == wp.ACK_OK and msg["state"] == wp.ACK_RELAYED, (t, msg)
    finally:
        fs.close()
    assert wz.acks(aid)["adv-a22"][0] == wp.ACK_RELAYED
    assert wz.rate(aid) == before


def test_repeated_read_ack_is_counted_once(delivered):
    wz, aid = delivered
    assert wz.ctl("adv-a11", "ack", aid, "read").rc == 0
    # The same state again is answered with ACK_OK and counted once.
    r = wz.ctl("adv-a11", "ack", aid, "read")
    assert r.rc == 0, r
    assert _counter(wz, aid, "school-a", "read") == 1


def test_reach_with_a_state_other_than_relayed_is_refused_with_110(delivered):
    wz, aid = delivered
    before = wz.rate(aid)
    fs, _ = wz.session("adv-a11", role=wp.ROLE_CONSOLE)
    try:
        fs.send_raw(wp.ack(aid, wp.ACK_READ, reach=40))
        t, msg = fs.recv(10)
        assert t == wp.ERROR and msg["code"] == wp.E["bad-value"], (t, msg)
    finally:
        fs.close()
    assert wz.acks(aid)["adv-a11"][0] == wp.ACK_SHOWN
    assert wz.rate(aid) == before


def test_relayed_with_reach_zero_is_stored_as_relayed(delivered):
    wz, aid = delivered
    fs, _ = wz.session("adv-a21", role=wp.ROLE_CONSOLE)
    try:
        fs.send_raw(wp.ack(aid, wp.ACK_RELAYED, reach=0))
        ok = fs.expect(wp.ACK_OK)
        assert ok["state"] == wp.ACK_RELAYED
    finally:
        fs.close()
    assert wz.acks(aid)["adv-a21"][0] == wp.ACK_RELAYED
    assert _counter(wz, aid, "school-a-d2", "relayed") == 1
    assert _counter(wz, aid, "school-a-d2", "reach") == 0


def test_ack_for_alert_not_addressed_to_sender_is_refused_with_400(delivered):
    wz, aid = delivered
    before = wz.rate(aid)
    r = wz.ctl("adv-b11", "ack", aid, "read")
    assert r.rc == 1, r
    assert r.error()[:2] == ("not-addressed", wp.E_NOT_ADDRESSED), r
    assert "adv-b11" not in wz.acks(aid)
    assert wz.rate(aid) == before
    fs, _ = wz.session("adv-b12")
    try:
        fs.send_raw(wp.ack(aid, wp.ACK_DELIVERED))
        while True:
            t, msg = fs.recv(10)
            if t != wp.ALERT:
                break
        assert t == wp.ERROR and msg["code"] == wp.E_NOT_ADDRESSED, (t, msg)
        assert msg.get("ref", aid) == aid
    finally:
        fs.close()
    assert wz.rate(aid) == before


def test_ack_for_unknown_alert_is_refused_with_308(wz):
    r = wz.ctl("adv-a11", "ack", "no-such-alert", "read")
    assert r.rc == 1, r
    assert r.error()[:2] == ("unknown-alert", wp.E_UNKNOWN_ALERT), r


def test_ack_over_the_wire_gets_ack_ok_after_redis_has_it(delivered):
    wz, aid = delivered
    fs, _ = wz.session("adv-a21", role=wp.ROLE_CONSOLE)
    try:
        fs.send_raw(wp.ack(aid, wp.ACK_RELAYED, reach=12))
        ok = fs.expect(wp.ACK_OK)
        assert (ok["id"], ok["state"]) == (aid, wp.ACK_RELAYED)
        # ACK_OK means stored.
        assert wz.acks(aid)["adv-a21"][0::2] == (wp.ACK_RELAYED, 12)
    finally:
        fs.close()


def _status_nodes(doc):
    """
    {node: counters} from `wuzhactl status --json`: accepts a list of node
    objects under "nodes" (each with "node" or "id"), or a mapping.
    """
    nodes = doc.get("nodes", doc)
    if isinstance(nodes, dict):
        return nodes
    out = {}
    for n in nodes:
        out[n.get("node") or n.get("id")] = n
    return out


def test_status_json_shows_the_same_counters_as_redis(delivered):
    wz, aid = delivered
    assert wz.ctl("adv-a11", "ack", aid, "read").rc == 0
    assert wz.ctl("adv-a12", "ack", aid, "relayed", "--reach", "40").rc == 0
    r = wz.ctl("desk-a", "status", aid, "--json")
    assert r.rc == 0, r
    doc = json.loads(r.out)
    assert doc["id"] == aid
    assert doc["target"] == "school-a"
    nodes = _status_nodes(doc)
    rate = wz.rate(aid)
    for node in wz.tree.subtree("school-a"):
        assert nodes[node]["targeted"] == len(wz.tree.receivers(node)), node
        for counter in ("delivered", "read", "relayed", "reach"):
            assert nodes[node][counter] == rate.get(node, {}).get(counter, 0), \
                (node, counter, nodes[node], rate.get(node))
    assert nodes["school-a"]["read"] == 2
    assert nodes["school-a-d1"]["reach"] == 40
    # A narrower view: one department.
    r = wz.ctl("officer-li", "status", aid, "--node", "school-a-d1", "--json")
    assert r.rc == 0, r
    nodes = _status_nodes(json.loads(r.out))
    assert set(nodes) == set(wz.tree.subtree("school-a-d1"))
    assert nodes["school-a-d1"]["read"] == 2


def test_status_req_over_the_wire_lists_nodes_and_members(delivered):
    wz, aid = delivered
    assert wz.ctl("adv-a11", "ack", aid, "read").rc == 0
    assert wz.ctl("adv-a12", "ack", aid, "relayed", "--reach", "40").rc == 0
    fs, _ = wz.session("desk-a", role=wp.ROLE_CONSOLE)
    try:
        fs.send_raw(wp.encode(wp.STATUS_REQ, id=aid, flags=0x01))
        st = fs.expect(wp.STATUS)
    finally:
        fs.close()
    assert (st["id"], st["target"]) == (aid, "school-a")
    nodes = [n["node"] for n in st["nodes"]]
    assert sorted(nodes) == sorted(wz.tree.subtree("school-a"))
    # Pre-order: every node after its parent, the root first without one.
    assert nodes[0] == "school-a" and "parent" not in st["nodes"][0]
    for n in st["nodes"][1:]:
        assert nodes.index(n["parent"]) < nodes.index(n["node"])
    root = st["nodes"][0]
    assert (root["targeted"], root["delivered"], root["read"],
            root["relayed"], root["reach"]) == (7, 6, 2, 1, 40)
    members = {m["cn"]: m for m in st["members"]}
    assert set(members) == set(SCHOOL_A)
    assert members["adv-a11"]["state"] == wp.ACK_READ
    assert members["adv-a12"]["state"] == wp.ACK_RELAYED
    assert members["liaison-a2"]["state"] == wp.ACK_NONE
    assert "at" not in members["liaison-a2"]
    assert members["desk-a"]["state"] == wp.ACK_SHOWN
    assert members["adv-a21"]["node"] == "school-a-d2-c1"


def test_status_without_observe_is_its_own_share_or_201(delivered):
    wz, aid = delivered
    # Receive alone: its own node's row of an alert sent to it, no more.
    r = wz.ctl("adv-a11", "status", aid, "--json")
    assert r.rc == 0, r
    assert [n["node"] for n in json.loads(r.out)["nodes"]] == \
        ["school-a-d1-c1"], r
    r = wz.ctl("adv-a11", "status", aid, "--node", "school-a")
    assert r.rc == 1, r
    assert r.error()[:2] == ("forbidden", wp.E_FORBIDDEN), r
    # Of an alert not sent to it: 201.
    r = wz.ctl("adv-b11", "status", aid, "--json")
    assert r.rc == 1, r
    assert r.error()[:2] == ("forbidden", wp.E_FORBIDDEN), r


def test_pending_lists_who_has_not_read(delivered):
    wz, aid = delivered
    assert wz.ctl("adv-a11", "ack", aid, "read").rc == 0
    assert wz.ctl("adv-a12", "ack", aid, "relayed", "--reach", "3").rc == 0
    r = wz.ctl("desk-a", "pending", aid, "--node", "school-a")
    assert r.rc == 0, r
    listed = set(r.out.split())
    want = {"desk-a", "liaison-a1", "liaison-a2", "adv-a21", "adv-a22"}
    assert want <= listed, r
    assert not ({"adv-a11", "adv-a12"} & listed), r
    r = wz.ctl("desk-a", "pending", aid, "--node", "school-a-d1-c2")
    assert r.rc == 0, r
    assert "adv-a12" not in r.out and "adv-a11" not in r.out, r
    r = wz.ctl("desk-a", "pending", aid, "--node", "school-a-d2")
    assert {"liaison-a2", "adv-a21", "adv-a22"} <= set(r.out.split()), r


def test_pending_by_state_says_who_is_online_and_where(delivered):
    """
    pending --state relayed lists who has not relayed, with the path of
    their node and whether their agent is connected: liaison-a2 never
    started one; adv-a21's is stopped here.
    """
    wz, aid = delivered
    assert wz.ctl("adv-a11", "ack", aid, "read").rc == 0
    assert wz.ctl("adv-a12", "ack", aid, "relayed", "--reach", "5").rc == 0
    wz.agents["adv-a21"].stop()
    harness.wait_for(lambda: wz.redis.hget_raw("seen", "adv-a21")
                     is not None, 10, "adv-a21's last-seen time")
    r = wz.ctl("desk-a", "pending", aid, "--node", "school-a", "--state",
               "relayed", "--json")
    assert r.rc == 0, r
    p = json.loads(r.out)
    rows = {x["cn"]: x for x in p["pending"]}
    assert set(rows) == {"desk-a", "liaison-a1", "liaison-a2", "adv-a11",
                         "adv-a21", "adv-a22"}, rows
    assert p["state"] == "relayed" and p["not_yet"] == 6
    assert p["listed"] == 7 and p["omitted"] == 0
    assert rows["adv-a11"]["state"] == "read"
    assert rows["adv-a11"]["path"] == "school-a/school-a-d1/school-a-d1-c1"
    assert rows["liaison-a2"]["state"] == "none"
    assert rows["liaison-a2"]["online"] is False
    assert rows["adv-a21"]["online"] is False
    assert rows["adv-a22"]["online"] is True
    assert rows["desk-a"]["path"] == "school-a"
    assert rows["desk-a"]["name"] == "学校A"
    assert p["online"] == 4
    r = wz.ctl("desk-a", "pending", aid, "--node", "school-a-d2")
    assert r.rc == 0, r
    lines = {l.split()[0]: l.split() for l in r.out.splitlines()[:-1]}
    assert lines["adv-a21"][1:3] == ["shown", "offline"], r.out
    assert lines["adv-a22"][1:3] == ["shown", "online"], r.out
    assert lines["adv-a22"][3] == "school-a-d2/school-a-d2-c2", r.out
    assert r.out.splitlines()[-1] == \
        "3 of 3 have not read (1 of them online now)", r.out
    r = wz.ctl("desk-a", "pending", aid, "--state", "seen")
    assert r.rc == 2 and "expected read or relayed" in r.err, r


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
