# SPDX-License-Identifier: ISC
"""
49-clues: a fraud clue reported upward (wuzhactl clue, signed with the
reporter's own key) reaches the observers of the reporter's school and of
its police unit, and nobody else: the school desk online gets it pushed,
the police officer offline at the time gets it pending when it connects,
the other school's desk and a class peer neither get it nor can fetch or
mark it (323).  Marks are signed and move forward only: handled before
anyone received it is refused (322), received twice and received after
handled are answered with the stored state and write nothing.  The
reporter sees the state of its own clues.  A clue signed by another key,
naming another reporter or another node is refused (320) and not stored;
over-long text, contact or note and more than clues.rate an hour are
refused (324).
"""

import hashlib
import os
import http.client
import json
import re
import urllib.parse

import pytest
from cryptography import x509

import browser
import harness
import wuzha_proto as wp

REPORTER = "adv-a11"            # class school-a-d1-c1, below school-a
REPORTER_NODE = "school-a-d1-c1"


def _hget(wz, key, field):
    v = wz.redis.hget_raw(key, field)
    return None if v is None else v.decode()


def _zscore(wz, key, member):
    v = wz.redis.cmd("ZSCORE", wz.redis.k(key), member)
    return None if v is None else int(float(v))


def _clue(wz, cn, text, *extra, clue_id=None):
    """wuzhactl clue as cn: (id, seq) on success, else the CtlResult."""
    clue_id = clue_id or wz.new_id("clue")
    r = wz.ctl(cn, "clue", "--text", text, "--id", clue_id, *extra)
    return r


def _clue_ok(wz, cn, text, *extra):
    clue_id = wz.new_id("clue")
    r = _clue(wz, cn, text, *extra, clue_id=clue_id)
    assert r.rc == 0, r
    words = r.out.split()
    assert words[:2] == ["clue", clue_id] and words[4] == "none", r
    return clue_id, int(words[3])


def _clues(wz, cn, *args):
    r = wz.ctl(cn, "clues", "--json", *args)
    assert r.rc == 0, r
    return {c["id"]: c for c in json.loads(r.out)["clues"]}


def _refused(r, code):
    assert r.rc == 1, r
    assert "(%d)" % code in r.err, r


def _pushes(fs, timeout):
    """CLUE_PUSH frames until a PONG answers our PING (sent after timeout
    seconds of waiting for pushes): whatever was queued before is seen."""
    out = []
    try:
        while True:
            t, msg = fs.recv(timeout=timeout)
            if t == wp.CLUE_PUSH:
                out.append(msg)
    except TimeoutError:
        pass
    fs.send_raw(wp.ping(4949))
    while True:
        t, msg = fs.recv(timeout=5)
        if t == wp.CLUE_PUSH:
            out.append(msg)
        elif t == wp.PONG:
            return out


def _check_push(wz, push, clue_id, text):
    """The push carries the clue as signed and its reporter's cert."""
    st, body = wp.decode_stored_clue(push["clue"])
    assert body["id"] == clue_id and body["text"] == text
    assert body["reporter"] == REPORTER and body["node"] == REPORTER_NODE
    assert st["cert_fp"] == hashlib.sha256(push["cert"]).digest()
    cert = x509.load_der_x509_certificate(push["cert"])
    assert wp.cn_of(cert) == REPORTER
    cert.public_key().verify(st["sig"], wp.CLUE_CONTEXT + st["body"])
    assert push.get("school") == "school-a"
    assert push.get("police") == "jn-police"


def test_clue_goes_to_school_and_police_only(wz):
    desk_a, _ = wz.session("desk-a")
    desk_b, _ = wz.session("desk-b")
    peer, _ = wz.session("adv-a12")
    text = "有人冒充公安要求学生转账到安全账户"
    clue_id, seq = _clue_ok(wz, REPORTER, text, "--contact", "13800000000")
    assert seq >= 1

    # The school desk online: pushed once, as signed.
    got = _pushes(desk_a, 5)
    assert [wp.decode_stored_clue(p["clue"])[1]["id"] for p in got] == \
        [clue_id], got
    _check_push(wz, got[0], clue_id, text)
    assert not got[0].get("flags")
    # The other school and a class peer: nothing.
    assert _pushes(desk_b, 0.5) == []
    assert _pushes(peer, 0.2) == []

    # The officer was offline: the clue is pending for it on connect.
    officer, _ = wz.session("officer-li")
    got = _pushes(officer, 5)
    assert len(got) == 1, got
    _check_push(wz, got[0], clue_id, text)
    assert got[0]["flags"] == wp.CF_RESENT
    officer.close()
    pending = _clues(wz, "officer-li", "--pending")
    assert clue_id in pending
    c = pending[clue_id]
    assert c["reporter"] == REPORTER and c["school"] == "school-a"
    assert c["police"] == "jn-police" and c["state"] == "none"
    assert c["text"] == text and c["contact"] == "13800000000"

    # The human table: a header, then one line per clue.
    r = wz.ctl("desk-a", "clues", "--all")
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0].split() == ["ID", "TIME", "REPORTER", "SCHOOL", "STATE",
                                "TEXT"], r
    row = [l for l in lines if l.startswith(clue_id)]
    assert len(row) == 1 and REPORTER in row[0] and "school-a" in row[0]
    assert " none " in row[0] and text in row[0] and "13800000000" in row[0]
    # Not theirs to see or mark.
    assert clue_id not in _clues(wz, "desk-b", "--all")
    _refused(wz.ctl("desk-b", "clues", "--id", clue_id), 323)
    _refused(wz.ctl("adv-a12", "clues", "--id", clue_id), 323)
    _refused(wz.ctl("adv-a12", "clues", "--pending"), 323)
    _refused(wz.ctl("liaison-a1", "clues", "--all"), 323)
    _refused(wz.ctl("desk-b", "clue-mark", clue_id, "received"), 323)
    _refused(wz.ctl("adv-a12", "clue-mark", clue_id, "received"), 323)
    _refused(wz.ctl("desk-a", "clue-mark", "no-such-clue", "received"), 321)
    # Redis: indexed at the two nodes and the reporter, nowhere else.
    assert _zscore(wz, "clues:school-a", clue_id) == seq
    assert _zscore(wz, "clues:jn-police", clue_id) == seq
    assert _zscore(wz, "cluemine:" + REPORTER, clue_id) == seq
    for k in wz.redis.keys("clues:*"):
        assert k in ("clues:school-a", "clues:jn-police"), k
    # Evidence: by default nothing of it expires.
    for k in ("clue:" + clue_id, "clues:school-a", "cluemine:" + REPORTER):
        assert wz.redis.cmd("PTTL", wz.redis.k(k)) == -1, k

    # The reporter sees its own; a retry of the same bytes is the same.
    mine = _clues(wz, REPORTER, "--mine")
    assert mine[clue_id]["state"] == "none"
    assert _clues(wz, REPORTER, "--id", clue_id)[clue_id]["seq"] == seq
    for fs in (desk_a, desk_b, peer):
        fs.close()


def test_marks_move_forward_only(wz):
    clue_id, seq = _clue_ok(wz, REPORTER, "可疑刷单群")
    _refused(wz.ctl("desk-a", "clue-mark", clue_id, "handled"), 322)
    r = wz.ctl("desk-a", "clue-mark", clue_id, "received")
    assert r.rc == 0 and r.out.split() == ["clue", clue_id, "seq",
                                           str(seq), "received"], r
    # Received twice: OK, nothing written.
    r = wz.ctl("desk-a", "clue-mark", clue_id, "received")
    assert r.rc == 0 and r.out.split()[-1] == "received", r
    assert _hget(wz, "clue:" + clue_id, "marks") == "1"
    assert clue_id not in _clues(wz, "desk-a", "--pending")
    assert clue_id in _clues(wz, "officer-li", "--pending")
    r = wz.ctl("desk-a", "clue-mark", clue_id, "handled", "--note", "已报警处置")
    assert r.rc == 0 and r.out.split()[-1] == "handled", r
    # Handled, then received by another observer: its receipt is kept,
    # the clue stays handled; handled again and received again change
    # nothing.
    r = wz.ctl("officer-li", "clue-mark", clue_id, "received")
    assert r.rc == 0 and r.out.split()[-1] == "handled", r
    assert _hget(wz, "clue:" + clue_id, "marks") == "3"
    for cn, st in (("desk-a", "received"), ("desk-a", "handled"),
                   ("officer-li", "handled")):
        r = wz.ctl(cn, "clue-mark", clue_id, st)
        assert r.rc == 0 and r.out.split()[-1] == "handled", r
    assert _hget(wz, "clue:" + clue_id, "marks") == "3"
    assert clue_id not in _clues(wz, "officer-li", "--pending")
    c = _clues(wz, "officer-li", "--all")[clue_id]
    assert c["state"] == "handled" and c["by"] == "desk-a"
    assert c["note"] == "已报警处置"
    mine = _clues(wz, REPORTER, "--mine")[clue_id]
    assert mine["state"] == "handled" and mine["note"] == "已报警处置"
    # Every mark kept is signed by its marker's own key.
    for n, (cn, state) in enumerate((("desk-a", 1), ("desk-a", 2),
                                     ("officer-li", 1)), 1):
        raw = wz.redis.hget_raw("clue:" + clue_id, "mark:%d" % n)
        st, body = wp.decode_stored_clue(raw, mark=True)
        assert body["by"] == cn and body["state"] == state
        cert = wp.load_cert(wz.crt(cn))
        assert st["cert_fp"] == hashlib.sha256(wp.der(cert)).digest()
        cert.public_key().verify(st["sig"], wp.CLUE_MARK_CONTEXT +
                                 st["body"])


def _send(wz, cn, frame):
    fs, _ = wz.session(cn, role=wp.ROLE_CONSOLE)
    try:
        fs.send_raw(frame)
        return fs.recv(timeout=5)
    finally:
        fs.close()


def _error(wz, cn, frame, code, words):
    t, msg = _send(wz, cn, frame)
    assert t == wp.ERROR and msg["code"] == code, msg
    assert words in msg["text"], msg


def test_forged_clues_refused(wz):
    key = wp.load_key(wz.key(REPORTER))
    other = wp.new_key()
    ids = [wz.new_id("forged") for _ in range(3)]
    body = wp.clue_body(ids[0], REPORTER, REPORTER_NODE, "伪造")
    _error(wz, REPORTER, wp.clue_msg(wp.CLUE, body, other), 320,
           "signature does not match")
    body = wp.clue_body(ids[1], "adv-a12", REPORTER_NODE, "冒名")
    _error(wz, REPORTER, wp.clue_msg(wp.CLUE, body, key), 320,
           "reporter adv-a12 is not you")
    body = wp.clue_body(ids[2], REPORTER, "school-a-d1-c2", "换位置")
    _error(wz, REPORTER, wp.clue_msg(wp.CLUE, body, key), 320,
           "node school-a-d1-c2 is not your place")
    for i in ids:
        assert not wz.redis.exists("clue:" + i)
    assert wz.redis.keys("clues:*") == []
    # A mark by another key, and one naming another marker.
    clue_id, _ = _clue_ok(wz, REPORTER, "真线索")
    mark = wp.clue_mark_body(clue_id, "desk-a", wp.CLUE_RECEIVED)
    _error(wz, "desk-a", wp.clue_msg(wp.CLUE_MARK, mark, other), 320,
           "signature does not match")
    mark = wp.clue_mark_body(clue_id, "officer-li", wp.CLUE_RECEIVED)
    _error(wz, "desk-a", wp.clue_msg(wp.CLUE_MARK, mark,
                                     wp.load_key(wz.key("desk-a"))), 320,
           "by officer-li is not you")
    assert _hget(wz, "clue:" + clue_id, "state") == "0"
    # The same id for a different clue.
    body = wp.clue_body(clue_id, REPORTER, REPORTER_NODE, "另一条")
    _error(wz, REPORTER, wp.clue_msg(wp.CLUE, body, key), 325,
           "taken by another clue")


def test_limits(env):
    env.setup(top={"clues": "{rate: 3, keep_days: 30}"})
    key = wp.load_key(env.key(REPORTER))
    # Text, contact and note lengths (wire: the console checks them too).
    body = wp.clue_body(env.new_id("long"), REPORTER, REPORTER_NODE,
                        "x" * 4097, check=False)
    _error(env, REPORTER, wp.clue_msg(wp.CLUE, body, key), 324,
           "text at most 4096 bytes")
    body = wp.clue_body(env.new_id("long"), REPORTER, REPORTER_NODE, "x",
                        contact="1" * 257, check=False)
    _error(env, REPORTER, wp.clue_msg(wp.CLUE, body, key), 324,
           "contact at most 256")
    r = env.ctl(REPORTER, "clue", "--text", "x" * 4097)
    assert r.rc == 2 and "1 to 4096 bytes" in r.err, r
    # The rate: three an hour here, the fourth refused.
    ids = [_clue_ok(env, REPORTER, "第%d条" % i)[0] for i in range(3)]
    r = _clue(env, REPORTER, "第四条")
    _refused(r, 324)
    assert "more than 3 clues in an hour" in r.err, r
    # Another reporter has a rate of its own.
    r = env.ctl("adv-a12", "clue", "--text", "别人的")
    assert r.rc == 0, r
    # Kept clues.keep_days (30 days here), not forever.
    ttl = int(env.redis.cmd("PTTL", env.prefix + "clue:" + ids[0]))
    assert 29 * 86400000 < ttl <= 30 * 86400000, ttl
    env.ctl("desk-a", "clue-mark", ids[0], "received", check=True)
    long_note = wp.fields([(1, ids[0].encode()), (2, b"desk-a"),
                           (3, bytes([2])), (4, b"n" * 1025),
                           (5, (wp.now_ms()).to_bytes(8, "big"))])
    _error(env, "desk-a", wp.clue_msg(wp.CLUE_MARK, long_note,
                                      wp.load_key(env.key("desk-a"))), 324,
           "note too long")
    assert _hget(env, "clue:" + ids[0], "state") == "1"
    # Pages: two at a time, in seq order, the cursor from `next`.
    fs, _ = env.session("desk-a", role=wp.ROLE_CONSOLE)
    try:
        seen, after = [], None
        for _ in range(4):
            fs.send_raw(wp.clues_req(wp.CLUES_ALL, after=after, limit=2))
            m = fs.expect(wp.CLUES)
            assert len(m["clues"]) <= 2
            seen += [c["seq"] for c in m["clues"]]
            if not m.get("next"):
                break
            after = m["next"]
        assert seen == sorted(seen) and len(seen) == 4, seen
        assert not m.get("next")
    finally:
        fs.close()


def test_clues_config_checked(env):
    env.setup(top={"clues": "{rate: 5, keep_days: 7}"})
    conf = env.daemon.argv[-1]
    with open(conf, encoding="utf-8") as f:
        good = f.read()
    r = env.run([harness.binary("wuzhad"), "-n", "-c", conf], check=False)
    assert r.rc == 0, r
    for bad, words in (("{rate: 0}", "rate"),
                       ("{keep_days: 40000}", "keep_days"),
                       ("{rat: 3}", "rat")):
        with open(conf, "w", encoding="utf-8") as f:
            f.write(good.replace("{rate: 5, keep_days: 7}", bad))
        r = env.run([harness.binary("wuzhad"), "-n", "-c", conf],
                    check=False)
        assert r.rc != 0, r
        assert words in r.err, r


def test_clue_reaches_observers_on_another_daemon_once(env):
    """Two daemons on one Redis: the clue goes in through one, the desk
    listens on the other (the `changed` stream tells it), the officer on
    the first; each gets it once."""
    env.setup(daemon=False)
    ports = []
    for k in range(2):
        env.start_daemon(name="wz%d" % k, conf="wuzhad-%d.yaml" % k)
        ports.append(env.port)
    first = [p for p in env.procs if p.name == "wz0"][0]
    desk, _ = env.session("desk-a", port=ports[1])
    officer, _ = env.session("officer-li", port=ports[0])
    try:
        clue_id = env.new_id("clue")
        r = env.ctl(REPORTER, "clue", "--text", "跨服务器的线索", "--id",
                    clue_id, port=ports[0])
        assert r.rc == 0, r
        for fs in (desk, officer):
            got = _pushes(fs, 3)
            assert [wp.decode_stored_clue(p["clue"])[1]["id"]
                    for p in got] == [clue_id], got
            assert not got[0].get("flags")
        # Marked on the other daemon, seen through the first.
        r = env.ctl("desk-a", "clue-mark", clue_id, "received",
                    port=ports[1])
        assert r.rc == 0, r
        r = env.ctl("officer-li", "clues", "--all", "--json", port=ports[0])
        assert r.rc == 0, r
        c = {c["id"]: c for c in json.loads(r.out)["clues"]}[clue_id]
        assert c["state"] == "received" and c["by"] == "desk-a"
    finally:
        desk.close()
        officer.close()
        assert first.stop() == 0


def _page_post(url, path, form, token=True):
    """A raw POST to the inbox page (with its token unless token=False)."""
    u = urllib.parse.urlsplit(url)
    host = "%s:%d" % (u.hostname, u.port)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        c.request("GET", u.path, headers={"Host": host})
        page = c.getresponse().read()
        tok = re.search(rb'name="wuzha-token" content="([0-9a-f]{32})"',
                        page).group(1).decode()
        h = {"Host": host,
             "Content-Type": "application/x-www-form-urlencoded"}
        if token:
            h["X-Wuzha-Token"] = tok
        c.request("POST", u.path + path, body=urllib.parse.urlencode(form),
                  headers=h)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_inbox_form_reports_a_clue_and_shows_its_states(wz):
    desk, _ = wz.session("desk-a")
    a = wz.start_agent(REPORTER, inbox=True)
    url = a.inbox_url()
    text = "有人在班级群发<img src=x onerror=alert(1)>刷单兼职链接"
    with browser.chromium(wz, browser.DESKTOP, name="clue") as d:
        d.get(url)
        browser.wait(d, "return document.getElementById('conn')"
                     ".classList.contains('up')", 10, "connected badge")
        d.find_element("id", "clue-text").send_keys(text)
        d.find_element("id", "clue-contact").send_keys("13900000000")
        d.find_element("id", "clue-send").click()
        browser.wait(d, "const li = document.querySelector('#clues li.clue');"
                     "return li && li.dataset.state === 'none'", 5,
                     "the clue stored")
        clue_id = d.execute_script(
            "return document.querySelector('#clues li.clue').dataset.id")
        shown = d.execute_script(
            "return document.querySelector('#clues li.clue').innerText")
        assert text in shown and "13900000000" in shown, shown
        assert d.execute_script(
            "return document.querySelectorAll('#clues img').length") == 0
        assert d.execute_script(
            "return document.getElementById('clue-text').value") == ""
        # Signed by the agent with the advisor's key; the desk has it.
        got = _pushes(desk, 5)
        assert len(got) == 1, got
        _check_push(wz, got[0], clue_id, text)
        # The desk and the officer act; the page shows it on its next look.
        wz.ctl("desk-a", "clue-mark", clue_id, "received", check=True)
        wz.ctl("desk-a", "clue-mark", clue_id, "handled", "--note",
               "已约谈群主并报警", check=True)
        d.refresh()
        browser.wait(d, "const li = document.querySelector('#clues li.clue');"
                     "return li && li.dataset.state === 'handled'", 5,
                     "the clue handled")
        shown = d.execute_script(
            "return document.querySelector('#clues li.clue').innerText")
        assert "已约谈群主并报警" in shown and "desk-a" in shown, shown
        for size in (browser.DESKTOP, browser.PHONE):
            browser.screenshot(d, "inbox-clue", size)
        assert browser.console_errors(d) == []
    # The page's own checks: empty, too long, no token.
    assert _page_post(url, "api/clue", {"text": ""})[0] == 400
    status, body = _page_post(url, "api/clue", {"text": "x" * 4097})
    assert status == 400 and b"4096" in body
    assert _page_post(url, "api/clue", {"text": "x", "contact": "1" * 257})[0] \
        == 400
    assert _page_post(url, "api/clue", {"text": "x"}, token=False)[0] == 403
    mine = _clues(wz, REPORTER, "--mine")
    assert list(mine) == [clue_id], mine
    desk.close()


def _console(wz, cn):
    """wuzhactl serve as cn: (process, the console's URL)."""
    url_file = os.path.join(wz.dir, "console-%s.url" % cn)
    p = wz.spawn("console-" + cn, [harness.binary("wuzhactl"), "-c",
                                   wz.client_conf(cn), "serve", "--url-file",
                                   url_file])

    def url():
        try:
            with open(url_file, encoding="utf-8") as f:
                return f.read().strip() or None
        except FileNotFoundError:
            assert p.alive(), "serve exited: " + p.log()
            return None
    return p, harness.wait_for(url, 10, "the console's URL")


def _row(clue_id):
    return ("document.querySelector('#clues tbody tr[data-id=%s]')"
            % json.dumps(clue_id))


def test_console_panel_marks_received_then_handled(wz):
    clue_id, _ = _clue_ok(wz, REPORTER, "有人冒充辅导员收取培训费<b>x</b>")
    serve, url = _console(wz, "officer-li")
    with browser.chromium(wz, browser.DESKTOP, name="console-clues") as d:
        d.get(url)
        d.execute_script("document.querySelector('#tabs "
                         "button[data-tab=clues]').click()")
        browser.wait(d, "return %s" % _row(clue_id), 10, "the clue's row")
        text = d.execute_script("return %s.innerText" % _row(clue_id))
        assert REPORTER in text and "school-a" in text and "<b>x</b>" in text
        assert d.execute_script("return %s.querySelectorAll('b').length"
                                % _row(clue_id)) == 0
        # Handled is off until someone received it.
        assert d.execute_script("return %s.querySelector('.clue-handled')"
                                ".disabled" % _row(clue_id))
        d.execute_script("%s.querySelector('.clue-received').click()"
                         % _row(clue_id))
        # Received: no longer pending for the officer.
        browser.wait(d, "return !%s" % _row(clue_id), 10,
                     "the clue off the pending list")
        d.execute_script("const s = document.getElementById('clues-which');"
                         "s.value = 'all';"
                         "document.getElementById('clues-go').click()")
        browser.wait(d, "const r = %s; return r && r.dataset.state === "
                     "'received'" % _row(clue_id), 10, "received")
        d.execute_script("const r = %s; r.querySelector('.clue-note').value"
                         " = '已联系学校核实'; r.querySelector('.clue-handled')"
                         ".click()" % _row(clue_id))
        browser.wait(d, "const r = %s; return r && r.dataset.state === "
                     "'handled'" % _row(clue_id), 10, "handled")
        assert "已联系学校核实" in d.execute_script(
            "return %s.innerText" % _row(clue_id))
        for size in (browser.DESKTOP, browser.PHONE):
            browser.screenshot(d, "console-clues", size)
        assert browser.console_errors(d) == []
    c = _clues(wz, REPORTER, "--mine")[clue_id]
    assert c["state"] == "handled" and c["by"] == "officer-li"
    assert c["note"] == "已联系学校核实"
    serve.stop()


def test_a_desk_or_an_officer_reports_to_the_levels_at_and_above_it(wz):
    """A school desk's clue goes to its own school and its police unit;
    an officer's to its own police unit only."""
    from_desk, _ = _clue_ok(wz, "desk-b", "校外人员推销校园贷")
    from_officer, _ = _clue_ok(wz, "officer-li", "辖区出现新型诈骗话术")
    assert _zscore(wz, "clues:school-b", from_desk) is not None
    assert _zscore(wz, "clues:jn-police", from_desk) is not None
    assert _zscore(wz, "clues:school-a", from_desk) is None
    assert _zscore(wz, "clues:jn-police", from_officer) is not None
    for school in ("school-a", "school-b"):
        assert _zscore(wz, "clues:" + school, from_officer) is None
    assert from_desk in _clues(wz, "desk-b", "--pending")
    assert from_desk not in _clues(wz, "desk-a", "--all")
    assert from_officer not in _clues(wz, "desk-b", "--all")
    c = _clues(wz, "officer-li", "--all")
    assert c[from_desk]["school"] == "school-b"
    assert c[from_officer]["school"] == "" and \
        c[from_officer]["police"] == "jn-police"


def test_inbox_clue_not_stored_is_sent_again_until_it_is(private_env):
    """Redis down when the advisor reports: the daemon cannot store it
    (501), the page shows it as sending, and the agent sends the same
    signed clue again until Redis is back and it is stored."""
    env = private_env
    env.redis_persist = True        # a restart keeps the data (AOF)
    env.setup()
    a = env.start_agent(REPORTER, inbox=True)
    url = a.inbox_url()
    with browser.chromium(env, browser.DESKTOP, name="clue-retry") as d:
        d.get(url)
        browser.wait(d, "return document.getElementById('conn')"
                     ".classList.contains('up')", 10, "connected badge")
        env.redis_proc.stop()
        d.find_element("id", "clue-text").send_keys("Redis 停了也不能丢")
        d.find_element("id", "clue-send").click()
        harness.wait_for(lambda: "store-unavailable (501)" in a.proc.log(),
                         10, "the daemon's 501")
        assert d.execute_script(
            "return document.querySelector('#clues li.clue')"
            ".dataset.state") == "sending"
        env.start_redis()           # the same socket, the same AOF
        browser.wait(d, "const li = document.querySelector('#clues li.clue');"
                     "return li && li.dataset.state === 'none'", 20,
                     "the clue stored once Redis is back")
        clue_id = d.execute_script(
            "return document.querySelector('#clues li.clue').dataset.id")
    assert re.search(r"clue %s sent again" % re.escape(clue_id), a.proc.log())
    mine = _clues(env, REPORTER, "--mine")
    assert list(mine) == [clue_id] and mine[clue_id]["text"] == \
        "Redis 停了也不能丢"
    assert clue_id in _clues(env, "desk-a", "--pending")


def test_clues_and_marks_are_in_the_audit_log(env):
    """Each clue and accepted mark is a leaf of the audit log, after its
    signer's certificate the first time that is seen; audit verify checks
    their signatures, and names the clue after one changed byte."""
    env.setup(top={"audit": '{checkpoint_every: 3, checkpoint_interval: '
                            '"1s"}'})
    key = env.prefix + "audit:log"
    start = int(env.redis.cmd("LLEN", key))
    clue_id, _ = _clue_ok(env, REPORTER, "有人冒充客服要求转账")
    assert wz_ok(env.ctl("desk-a", "clue-mark", clue_id, "received"))
    assert wz_ok(env.ctl("desk-a", "clue-mark", clue_id, "handled",
                         "--note", "已转派出所"))
    # A repeat writes nothing, to the clue or to the log.
    assert wz_ok(env.ctl("desk-a", "clue-mark", clue_id, "received"))
    new = [wp.audit_entry_parse(bytes(x))
           for x in env.redis.cmd("LRANGE", key, start, -1)]
    assert [e["kind"] for e in new] == [3, 4, 3, 5, 5], new
    assert wp.cn_of(x509.load_der_x509_certificate(new[0]["data"])) == REPORTER
    assert wp.cn_of(x509.load_der_x509_certificate(new[2]["data"])) == "desk-a"
    assert new[1]["data"] == env.redis.hget_raw("clue:" + clue_id, "clue")
    assert new[4]["data"] == env.redis.hget_raw("clue:" + clue_id, "mark:2")
    r = env.ctl("officer-li", "audit", "verify", "--json")
    assert r.rc == 0, r
    out = json.loads(r.out)
    assert out["ok"] and out["entries"] == start + 5, out
    # One byte of the clue's text changed in the store: named by its index.
    idx = start + 1
    raw = bytearray(env.redis.cmd("LINDEX", key, idx))
    text = "有人冒充客服要求转账".encode()
    at = bytes(raw).index(text)
    raw[at + len(text) - 1] ^= 0x01
    env.redis.cmd("LSET", key, idx, bytes(raw))
    r = env.ctl("officer-li", "audit", "verify", "--json")
    assert r.rc == 1, r
    out = json.loads(r.out)
    assert out["first_bad"]["index"] == idx, out
    assert out["first_bad"]["kind"] == "clue", out


def wz_ok(r):
    assert r.rc == 0, r
    return True
