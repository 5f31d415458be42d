# SPDX-License-Identifier: ISC
"""
50-cap: OASIS CAP 1.2.  An alert, an update, a cancel and a drill
published with wuzhactl are exported with `wuzhactl cap export` (the
daemon's ENVELOPE, verified by wuzhactl first); each document is CAP 1.2
in its namespace with its elements in CAP's order, and read back with
`publish --cap FILE --print` it gives the original body field for field
(times at whole seconds: CAP has no milliseconds).  An exported document
with a new identifier, published with --cap, reaches a real agent, which
verifies it; the same document again is refused 307.  A sender other
than the console, XXE, billion laughs, any DOCTYPE and XInclude are
refused with the reason and exit 2, and nothing is published.  Export is
refused to a principal who may not see the alert, for an unknown alert,
and for an envelope altered in Redis.
"""

import json
import os
import xml.etree.ElementTree as ET

import pytest

import harness
import wuzha_proto as wp

NS = "urn:oasis:names:tc:emergency:cap:1.2"
Q = "{%s}" % NS

# CAP 1.2's sequences (the XML schema's order).
ALERT_ORDER = ["identifier", "sender", "sent", "status", "msgType", "source",
               "scope", "restriction", "addresses", "code", "note",
               "references", "incidents", "info"]
INFO_ORDER = ["language", "category", "event", "responseType", "urgency",
              "severity", "certainty", "audience", "eventCode", "effective",
              "onset", "expires", "senderName", "headline", "description",
              "instruction", "web", "contact", "parameter", "resource",
              "area"]


def _body(wz, alert_id):
    """The body of the envelope the daemon stored, decoded."""
    env = wz.redis.hget_raw("alert:" + alert_id, "env")
    assert env, alert_id
    return wp.decode_alert(wp.decode_envelope(env)["body"])


def _export(wz, cn, alert_id):
    path = os.path.join(wz.dir, "%s.cap.xml" % alert_id)
    r = wz.ctl(cn, "cap", "export", alert_id, "-o", path)
    assert r.rc == 0, r
    with open(path, "rb") as f:
        return path, f.read()


def _in_order(children, order, where):
    names = []
    for c in children:
        assert c.tag.startswith(Q), (where, c.tag)
        names.append(c.tag[len(Q):])
    idx = [order.index(n) for n in names]
    assert idx == sorted(idx), (where, names)
    return names


def _check_structure(xml):
    root = ET.fromstring(xml)
    assert root.tag == Q + "alert"
    names = _in_order(list(root), ALERT_ORDER, "alert")
    for req in ("identifier", "sender", "sent", "status", "msgType",
                "scope", "info"):
        assert names.count(req) == 1, (req, names)
    info = root.find(Q + "info")
    inames = _in_order(list(info), INFO_ORDER, "info")
    for req in ("category", "event", "urgency", "severity", "certainty"):
        assert req in inames, (req, inames)
    return root


def _print(wz, cn, path, *extra):
    return wz.ctl(cn, "publish", "--cap", path, "--print", *extra)


SECONDS = ("issued_at", "expires_at", "publish_at")


def _same_body(printed, body):
    """--print's JSON against the stored body, field by field."""
    want = {
        "id": body["id"], "issuer": body["issuer"],
        "target": body["target"],
        "type": {1: "alert", 2: "update", 3: "cancel"}[body["msg_type"]],
        "references": body.get("references", ""),
        "category": {v: k for k, v in wp.CATEGORIES.items()}[
            body["category"]],
        "severity": {v: k for k, v in wp.SEVERITIES.items()}[
            body["severity"]],
        "status": {v: k for k, v in wp.STATUSES.items()}[
            body.get("status", 0)],
        "relay_required": bool(body["relay_required"]),
        "headline": body["headline"], "text": body["text"],
        "instruction": body.get("instruction", ""),
    }
    for k, v in want.items():
        assert printed[k] == v, (k, printed[k], v)
    for k in SECONDS:
        assert printed[k] == body.get(k, 0) // 1000 * 1000, (k, printed[k])


def test_alert_update_cancel_drill_round_trip(wz):
    text = "近期有人冒充公安机关来电 & 要求转账 <安全账户>\r\n第二行\t制表"
    orig, _, _ = wz.publish(
        "desk-a", "school-a", headline="冒充公检法诈骗预警", text=text,
        extra=("--instruction", "立即挂断，告知班主任", "--category",
               "knowledge", "--severity", "moderate", "--relay-required"))
    upd, _, _ = wz.publish(
        "desk-a", "school-a", headline="更新：新的话术",
        extra=("--type", "update", "--references", orig, "--category",
               "case-followup", "--severity", "extreme"))
    can, _, _ = wz.publish(
        "desk-a", "school-a", headline="撤销", extra=(
            "--type", "cancel", "--references", orig))
    drill, _, _ = wz.publish("officer-li", "school-b", headline="防诈骗演练",
                             extra=("--drill", "--severity", "minor"))
    obody = _body(wz, orig)
    for aid, cn in ((orig, "desk-a"), (upd, "desk-a"), (can, "officer-li"),
                    (drill, "officer-li")):
        body = _body(wz, aid)
        path, xml = _export(wz, cn, aid)
        root = _check_structure(xml)
        assert root.findtext(Q + "identifier") == aid
        assert root.findtext(Q + "sender") == body["issuer"]
        assert root.findtext(Q + "scope") == "Restricted"
        assert root.findtext(Q + "sent").endswith("-00:00")
        assert root.findtext(Q + "status") == (
            "Exercise" if aid == drill else "Actual")
        assert root.findtext(Q + "msgType") == {
            orig: "Alert", upd: "Update", can: "Cancel",
            drill: "Alert"}[aid]
        params = {p.findtext(Q + "valueName"): p.findtext(Q + "value")
                  for p in root.iter(Q + "parameter")}
        assert params["wuzha:target"] == body["target"]
        if aid in (upd, can):
            sender, ident, sent = root.findtext(Q + "references").split(",")
            assert (sender, ident) == ("desk-a", orig)
            assert sent.endswith("-00:00")
        r = _print(wz, cn, path)
        assert r.rc == 0, r
        printed = json.loads(r.out)
        _same_body(printed, body)
        if aid in (upd, can):
            assert printed["references"] == orig
    # The texts survived the XML, CR, tab, & and < included.
    r = _print(wz, "desk-a", os.path.join(wz.dir, "%s.cap.xml" % orig))
    assert json.loads(r.out)["text"] == text == obody["text"]


def test_edited_document_reaches_an_agent_once(wz):
    agent = wz.start_agent("adv-a11")
    agent.proc.wait_log(r"welcome principal", timeout=15)
    orig, _, _ = wz.publish("desk-a", "school-a", headline="原始预警",
                            extra=("--expires", "2h"))
    agent.wait_shown(orig)
    _, xml = _export(wz, "desk-a", orig)
    new_id = wz.new_id("cap")
    edited = xml.decode().replace(
        "<identifier>%s</identifier>" % orig,
        "<identifier>%s</identifier>" % new_id).replace(
        "原始预警", "由 CAP 导入的预警")
    path = os.path.join(wz.dir, "edited.xml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(edited)

    # Someone else's document: refused before anything is signed.
    r = wz.ctl("officer-li", "publish", "--cap", path)
    assert r.rc == 2, r
    assert "cap-not-sender (345)" in r.err and "desk-a" in r.err, r
    assert not wz.redis.exists("alert:" + new_id)

    # --dry-run: signed now, shown, not sent; a body option is refused.
    r = wz.ctl("desk-a", "publish", "--cap", path, "--dry-run", "--json")
    assert r.rc == 0, r
    dry = json.loads(r.out)
    assert dry["id"] == new_id and dry["sent"] is False
    assert abs(dry["issued_at"] - wp.now_ms()) < 60000
    assert not wz.redis.exists("alert:" + new_id)
    r = wz.ctl("desk-a", "publish", "--cap", path, "--target", "school-b")
    assert r.rc == 2 and "--cap takes the whole alert" in r.err, r

    r = wz.ctl("desk-a", "publish", "--cap", path)
    assert r.rc == 0, r
    assert "published %s seq" % new_id in r.out, r
    agent.wait_shown(new_id)
    rec = [x for x in agent.shown() if x["WUZHA_ID"] == new_id][0]
    assert rec["WUZHA_HEADLINE"] == "由 CAP 导入的预警"
    assert rec["WUZHA_ISSUER"] == "desk-a"
    assert rec["WUZHA_TARGET"] == "school-a"
    body = _body(wz, new_id)
    assert body["expires_at"] // 1000 == _body(wz, orig)["expires_at"] // 1000
    assert body["issued_at"] > _body(wz, orig)["issued_at"]

    # Ids are unique: the same document again is a duplicate.
    r = wz.ctl("desk-a", "publish", "--cap", path)
    assert r.rc == 1, r
    assert "duplicate-id (307)" in r.err, r


SECRET = "wuzha-cap-secret-%d" % os.getpid()

HOSTILE = {
    "xxe": """<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file://%(secret)s">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>%(id)s</identifier><sender>desk-a</sender>
  <sent>2027-01-15T08:00:00-00:00</sent><status>Actual</status>
  <msgType>Alert</msgType><scope>Restricted</scope>
  <info><category>Security</category><event>x</event>
  <urgency>Immediate</urgency><severity>Severe</severity>
  <certainty>Likely</certainty><expires>2099-01-01T00:00:00-00:00</expires>
  <headline>&xxe;</headline>
  <parameter><valueName>wuzha:target</valueName><value>school-a</value>
  </parameter></info>
</alert>
""",
    "laughs": """<?xml version="1.0"?>
<!DOCTYPE alert [
 <!ENTITY a "lol">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
 <!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>%(id)s</identifier>
<note>&h;</note></alert>
""",
    "doctype": """<?xml version="1.0"?>
<!DOCTYPE alert SYSTEM "http://127.0.0.1:9/cap.dtd">
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>%(id)s</identifier></alert>
""",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE) + ["xinclude"])
def test_hostile_documents_are_refused(wz, kind, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    aid = wz.new_id("hostile")
    if kind == "xinclude":
        # A real document with an XInclude of the secret file in it.
        orig, _, _ = wz.publish("desk-a", "school-a", headline="x")
        _, xml = _export(wz, "desk-a", orig)
        doc = xml.decode().replace(
            "<identifier>%s</identifier>" % orig,
            "<identifier>%s</identifier>" % aid).replace(
            "<headline>x</headline>",
            '<headline><xi:include xmlns:xi="http://www.w3.org/2001/'
            'XInclude" href="%s" parse="text"/></headline>' % secret)
        want = "cap-bad-element (342)"
    else:
        doc = HOSTILE[kind] % {"secret": secret, "id": aid}
        want = "cap-doctype (341)"
    path = tmp_path / ("%s.xml" % kind)
    path.write_text(doc)
    for args in (("--print",), ()):
        r = wz.ctl("desk-a", "publish", "--cap", str(path), *args)
        assert r.rc == 2, r
        assert want in r.err, r
        assert SECRET not in r.out + r.err
        # One line: the reason, not libxml2's own noise.
        assert len(r.err.strip().splitlines()) == 1, r
    assert not wz.redis.exists("alert:" + aid)


def test_bad_documents_name_the_element(wz, tmp_path):
    orig, _, _ = wz.publish("desk-a", "school-a", headline="基准")
    _, xml = _export(wz, "desk-a", orig)
    good = xml.decode()
    sent = good.split("<sent>")[1].split("</sent>")[0]
    cases = [
        (good.replace(sent, sent.replace("-00:00", "Z")),
         "cap-bad-time (344)", "<sent>"),
        (good.replace(NS, "urn:oasis:names:tc:emergency:cap:1.1"),
         "cap-bad-element (342)", "namespace"),
        (good.replace("<headline>基准</headline>",
                      "<headline>%s</headline>" % ("长" * 200)),
         "too-long (106)", "<headline>"),
        (good.replace("<status>Actual</status>", "<status>Draft</status>"),
         "cap-bad-value (343)", "<status>"),
        (good.replace("<scope>Restricted</scope>",
                      "<scope>Restricted</scope><bogus>1</bogus>"),
         "cap-bad-element (342)", "<bogus>"),
        ("A" * (64 * 1024 + 1), "cap-bad-xml (340)", "65536"),
    ]
    for i, (doc, code, what) in enumerate(cases):
        path = tmp_path / ("bad-%d.xml" % i)
        path.write_text(doc)
        r = _print(wz, "desk-a", str(path))
        assert r.rc == 2, (i, r)
        assert code in r.err and what in r.err, (i, r)


def test_export_is_refused_where_it_must_be(wz):
    orig, _, _ = wz.publish("desk-a", "school-a-d1", headline="只给一系")
    # Beside the target, no observe over it: 201.
    r = wz.ctl("desk-b", "cap", "export", orig)
    assert r.rc == 1 and "forbidden (201)" in r.err, r
    # A receiver below the target may; one beside it may not.
    assert wz.ctl("adv-a11", "cap", "export", orig).rc == 0
    r = wz.ctl("adv-a21", "cap", "export", orig)
    assert r.rc == 1 and "forbidden (201)" in r.err, r
    r = wz.ctl("desk-a", "cap", "export", "no-such-alert")
    assert r.rc == 1 and "unknown-alert (308)" in r.err, r

    # An envelope altered in Redis is not exported.
    env = bytearray(wz.redis.hget_raw("alert:" + orig, "env"))
    i = env.find("只给一系".encode())
    env[i + 2] ^= 0x01
    wz.redis.cmd("HSET", wz.redis.k("alert:" + orig), "env", bytes(env))
    out = os.path.join(wz.dir, "forged.xml")
    r = wz.ctl("desk-a", "cap", "export", orig, "-o", out)
    assert r.rc == 1, r
    assert "does not verify" in r.err and "not exported" in r.err, r
    assert not os.path.exists(out)


def test_envelope_on_the_wire(wz):
    """ENVELOPE_REQ as PROTOCOL.md 4.9g/4.9h has it: the stored bytes, and
    for an update the referenced alert's issuer and issued_at."""
    orig, _, _ = wz.publish("officer-li", "school-a", headline="原始")
    upd, _, _ = wz.publish("desk-a", "school-a", headline="更新",
                           extra=("--type", "update", "--references", orig))
    fs, _ = wz.session("desk-a", role=wp.ROLE_CONSOLE)
    try:
        fs.send_raw(wp.envelope_req(upd))
        m = fs.expect(wp.ENVELOPE)
        assert m["id"] == upd
        assert m["envelope"] == wz.redis.hget_raw("alert:" + upd, "env")
        assert m["ref_issuer"] == "officer-li"
        assert m["ref_issued_at"] == _body(wz, orig)["issued_at"]
        fs.send_raw(wp.envelope_req(orig))
        m = fs.expect(wp.ENVELOPE)
        assert "ref_issuer" not in m and "ref_issued_at" not in m
        assert wp.decode_alert(wp.decode_envelope(m["envelope"])["body"])[
            "id"] == orig
        fs.send_raw(wp.envelope_req("never-published"))
        m = fs.expect(wp.ERROR)
        assert m["code"] == wp.E_UNKNOWN_ALERT and m["ref"] == \
            "never-published", m
        # Without its id: refused, and the session goes on.
        fs.send(wp.ENVELOPE_REQ)
        m = fs.expect(wp.ERROR)
        assert m["code"] == wp.E["missing-field"], m
        fs.send_raw(wp.envelope_req(orig))
        assert fs.expect(wp.ENVELOPE)["id"] == orig
    finally:
        fs.close()
    fs, _ = wz.session("adv-b11", role=wp.ROLE_CONSOLE)
    try:
        fs.send_raw(wp.envelope_req(orig))
        m = fs.expect(wp.ERROR)
        assert m["code"] == wp.E_FORBIDDEN and m["ref"] == orig, m
    finally:
        fs.close()
    wz.daemon.wait_log(r"adv-b11.*may not see alert %s" % orig, timeout=5)


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
