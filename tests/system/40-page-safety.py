# SPDX-License-Identifier: ISC
"""
40-page-safety: the inbox page of wuzha-agent answers only a page it
served itself.  Without the per-start secret in the path: 404.  A Host
that is not this loopback listener (DNS rebinding): 421.  An Origin or a
Sec-Fetch-Site of another site: 403.  A POST without the page's token,
or with a wrong one: 403, and nothing is acknowledged.  A body that is
too large: 413.  Every answer carries the strict Content-Security-Policy,
nosniff, no referrer and no caching.  A listen address off loopback is
refused at start.  Checked here with raw HTTP, below the browser, so
each refusal is seen on its own.
"""

import http.client
import os
import re
import subprocess
import urllib.parse

import harness


def _split(url):
    u = urllib.parse.urlsplit(url)
    return u.hostname, u.port, u.path  # path: /SECRET/


def _req(url, method="GET", path="", headers=None, body=None):
    host, port, base = _split(url)
    h = {"Host": "%s:%d" % (host, port)}
    h.update(headers or {})
    c = http.client.HTTPConnection(host, port, timeout=10)
    try:
        c.request(method, base + path, body=body, headers=h)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def _token(url):
    status, _, body = _req(url)
    assert status == 200
    m = re.search(rb'name="wuzha-token" content="([0-9a-f]{32})"', body)
    assert m, body[:400]
    return m.group(1).decode()


def _post(url, path, form, token, headers=None):
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    if token is not None:
        h["X-Wuzha-Token"] = token
    h.update(headers or {})
    return _req(url, "POST", path, h, urllib.parse.urlencode(form))


def test_requests_that_a_page_of_ours_did_not_make_are_refused(wz):
    a = wz.start_agent("adv-a11", inbox=True)
    url = a.inbox_url()
    aid, _, _ = wz.publish("officer-li", "school-a")
    a.wait_shown(aid)
    host, port, base = _split(url)
    assert host == "127.0.0.1" and re.fullmatch(r"/[0-9a-f]{32}/", base)

    # The page itself, with the headers that keep it to itself.
    status, hdr, body = _req(url)
    assert status == 200 and b"<!DOCTYPE html>" in body
    csp = hdr["Content-Security-Policy"]
    for part in ("default-src 'none'", "script-src 'self'",
                 "frame-ancestors 'none'", "base-uri 'none'"):
        assert part in csp, csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert hdr["X-Content-Type-Options"] == "nosniff"
    assert hdr["Referrer-Policy"] == "no-referrer"
    assert hdr["Cache-Control"] == "no-store"
    # No page pulls anything from elsewhere.
    for name in ("", "display", "inbox.js", "common.js", "display.js",
                 "page.css"):
        status, _, body = _req(url, path=name)
        assert status == 200, name
        assert not re.search(rb"(https?:)?//[a-z0-9.-]+\.[a-z]", body), name

    # Without the secret, or with a wrong one: nothing.
    for path in ("/", "/api/alerts", "/" + "0" * 32 + "/api/alerts",
                 base[:-2] + "/api/alerts"):
        c = http.client.HTTPConnection(host, port, timeout=10)
        c.request("GET", path, headers={"Host": "%s:%d" % (host, port)})
        r = c.getresponse()
        assert r.status == 404, path
        r.read()
        c.close()

    # DNS rebinding: the browser sends the attacker's name as Host.
    for h in ("evil.example:%d" % port, "127.0.0.1:%d" % (port + 1),
              "127.0.0.1", "localhost.evil.example:%d" % port):
        status, _, _ = _req(url, path="api/alerts", headers={"Host": h})
        assert status == 421, h
    # localhost names the same listener.
    status, _, _ = _req(url, path="api/alerts",
                        headers={"Host": "localhost:%d" % port})
    assert status == 200

    # Another site's Origin or fetch metadata.
    status, _, _ = _req(url, path="api/alerts",
                        headers={"Origin": "http://evil.example"})
    assert status == 403
    status, _, _ = _req(url, path="api/alerts",
                        headers={"Sec-Fetch-Site": "cross-site"})
    assert status == 403

    token = _token(url)
    # A POST without the token, with a wrong one, from another Origin:
    # refused, and nothing acknowledged.
    form = {"id": aid, "state": "read"}
    assert _post(url, "api/ack", form, None)[0] == 403
    assert _post(url, "api/ack", form, "f" * 32)[0] == 403
    assert _post(url, "api/ack", form, token[:-1])[0] == 403
    assert _post(url, "api/ack", form, token,
                 {"Origin": "http://evil.example"})[0] == 403
    assert _post(url, "api/ack", form, token,
                 {"Sec-Fetch-Site": "cross-site"})[0] == 403
    # A form post from a page elsewhere cannot set the header, nor pick
    # its content type freely.
    status, _, _ = _req(url, "POST", "api/ack",
                        {"X-Wuzha-Token": token, "Content-Type": "text/plain"},
                        "id=%s&state=read" % aid)
    assert status == 415
    # Too large a body.
    status, _, _ = _post(url, "api/ack", {"id": aid, "pad": "x" * 17000},
                         token)
    assert status == 413
    log = a.log()
    assert "refused (403): POST without the page's token" in log
    assert "refused (421): Host is not this loopback listener" in log
    # Delivered, and shown by the hook; never read.
    assert wz.acks(aid)["adv-a11"][0] in (1, 4), "refused POSTs acknowledged"

    # Bad fields get a reason; the good one goes through.
    status, _, body = _post(url, "api/ack", {"id": aid, "state": "eaten"},
                            token)
    assert status == 400 and b"state must be read or relayed" in body
    status, _, body = _post(url, "api/ack", {"id": "nope", "state": "read"},
                            token)
    assert status == 404
    status, _, body = _post(url, "api/ack",
                            {"id": aid, "state": "relayed", "reach": "-3"},
                            token)
    assert status == 400 and b"head count" in body
    status, _, body = _post(url, "api/ack", {"id": aid, "state": "read"},
                            token)
    assert status == 200, body
    harness.wait_for(lambda: wz.acks(aid)["adv-a11"][0] == 2, 5,
                     "the read ack")


def test_the_page_listens_on_loopback_only(env):
    env.setup()
    conf = env.client_conf("adv-a11", name="agent-off-loopback",
                           extra=["inbox:", '  listen: "0.0.0.0:0"'])
    r = subprocess.run([harness.binary("wuzha-agent"), "-c", conf],
                       capture_output=True, text=True,
                       timeout=harness.CMD_TIMEOUT, check=False)
    assert r.returncode != 0
    assert "loopback only" in r.stderr, r.stderr
    assert os.path.basename(conf) in r.stderr
