# SPDX-License-Identifier: ISC
"""
18-metrics: wuzhad's local HTTP listener.  /metrics parses as the
Prometheus text format (every sample under a declared family, histogram
buckets cumulative and ending in +Inf = count), and its counters move as
alerts are published, delivered and acknowledged and as errors are sent;
/healthz answers 200 while wuzhad listens and Redis is up, and 503 from
the moment Redis stops until it is back.
"""

import http.client
import re
import socket
import ssl

import harness
import wuzha_proto as wp

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? '
                    r'(-?[0-9.eE+-]+|\+Inf|NaN)$')
LABEL = re.compile(r'^[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"$')


# A redis-server of its own (see the env fixture in conftest.py).
PRIVATE_REDIS = True


def _port(env):
    m = env.daemon.wait_log(r"metrics on http://127\.0\.0\.1:(\d+)/metrics",
                            timeout=10)
    return int(m.group(1))


def _get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read().decode()
    finally:
        c.close()


def parse(text):
    """{(name, labels): value}, checking the exposition format."""
    types = {}
    samples = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            assert len(line.split(" ", 3)) == 4, line
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram"), line
            assert name not in types, "family declared twice: " + name
            types[name] = kind
            continue
        assert not line.startswith("#") and line, repr(line)
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels = m.group(1), m.group(3) or ""
        for pair in filter(None, labels.split(",")):
            assert LABEL.match(pair), line
        family = re.sub(r"_(bucket|sum|count)$", "", name) \
            if types.get(re.sub(r"_(bucket|sum|count)$", "", name)) == \
            "histogram" else name
        assert family in types, "sample before its TYPE: " + line
        if types[family] == "counter":
            assert name.endswith("_total"), line
        assert (name, labels) not in samples, "duplicate: " + line
        samples[(name, labels)] = float(m.group(4))
    # Histograms: cumulative buckets, the last one +Inf and equal to count.
    for fam, kind in types.items():
        if kind != "histogram":
            continue
        buckets = [(k[1], v) for k, v in samples.items()
                   if k[0] == fam + "_bucket"]
        values = [v for _, v in buckets]
        assert values == sorted(values), buckets
        assert buckets[-1][0] == 'le="+Inf"', buckets
        assert buckets[-1][1] == samples[(fam + "_count", "")]
    return samples


def scrape(port):
    status, ctype, body = _get(port, "/metrics")
    assert status == 200
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    return parse(body)


def test_metrics_move_with_alerts_acks_and_errors(env):
    env.setup()
    port = _port(env)
    before = scrape(port)
    assert before[("wuzha_redis_up", "")] == 1
    assert before[("wuzha_alerts_published_total", "")] == 0

    agents = [env.start_agent(cn) for cn in ("adv-a11", "adv-a12")]
    for a in agents:
        a.proc.wait_log(r"welcome principal", timeout=15)
    aid, _, _ = env.publish("officer-li", "school-a")
    for a in agents:
        a.wait_shown(aid)

    def acked():
        s = scrape(port)
        return s if s[("wuzha_acks_stored_total", 'state="delivered"')] \
            >= 2 else None
    after = harness.wait_for(acked, 15, "2 delivered acks in /metrics")
    assert after[("wuzha_alerts_published_total", "")] == 1
    assert after[("wuzha_alert_frames_sent_total", "")] >= 2
    assert after[("wuzha_handshakes_total", 'kind="full"')] >= 3
    assert after[("wuzha_agents_online", "")] == 2
    assert after[("wuzha_alerts_live", "")] == 1
    assert after[("wuzha_redis_round_trip_seconds_count", "")] > \
        before[("wuzha_redis_round_trip_seconds_count", "")]
    assert after[("wuzha_connections_accepted_total", "")] >= 3

    # An unknown frame type: ERROR 102, counted by code.
    fs, _ = env.session("adv-b11")      # under school-b: no alert pending
    try:
        fs.send(0x5a, b"")
        t, msg = fs.recv()
        assert t == wp.ERROR and msg["code"] == 102
    finally:
        fs.close()
    s = scrape(port)
    assert s[("wuzha_errors_sent_total",
              'code="102",name="unknown-type"')] == 1


def _handshake_fails(env, cert, key, tls12=False):
    """One connection the daemon must refuse during the handshake."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(env.ca)
    ctx.check_hostname = False
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(cert, key)
    with socket.create_connection(("127.0.0.1", env.port), 10) as raw:
        try:
            with ctx.wrap_socket(raw) as s:
                s.settimeout(10)
                s.sendall(wp.hello())
                assert s.recv(1) == b"", "a refused handshake read data"
        except (ssl.SSLError, ConnectionError, OSError):
            pass


def test_handshake_failures_are_counted_by_reason(env):
    env.setup()
    port = _port(env)
    fam = "wuzha_handshake_failures_total"
    before = scrape(port)
    rogue_key, rogue_ca = wp.make_ca("not-the-wuzha-ca")
    key, cert = wp.issue_cert(rogue_key, rogue_ca, "adv-a11")
    crt, kp = wp.write_pem(env.dir, "foreign-adv", key, cert)
    _handshake_fails(env, crt, kp)          # another CA's certificate
    _handshake_fails(env, None, None)       # no certificate
    _handshake_fails(env, env.crt("adv-a11"), env.key("adv-a11"),
                     tls12=True)            # TLS 1.2 only
    with socket.create_connection(("127.0.0.1", env.port), 10) as raw:
        raw.sendall(b"\x16\x03\x01")      # a ClientHello begun, then gone

    def counted():
        s = scrape(port)
        d = {r: s.get((fam, 'reason="%s"' % r), 0) -
             before.get((fam, 'reason="%s"' % r), 0)
             for r in ("certificate", "protocol", "closed", "timeout")}
        return d if d["certificate"] >= 2 and d["protocol"] >= 1 and \
            d["closed"] >= 1 else None
    d = harness.wait_for(counted, 15, "handshake failures by reason")
    assert d == {"certificate": 2, "protocol": 1, "closed": 1,
                 "timeout": 0}, d


def test_healthz_fails_while_redis_is_down(env):
    env.redis_persist = True
    env.setup()
    port = _port(env)
    status, _, body = _get(port, "/healthz")
    assert (status, body) == (200, "ok\n")

    env.redis_proc.stop()
    down = harness.wait_for(
        lambda: (lambda r: r if r[0] == 503 else None)(_get(port, "/healthz")),
        15, "/healthz to fail")
    assert down[2] == "redis unavailable\n"
    assert scrape(port)[("wuzha_redis_up", "")] == 0

    env.start_redis()
    harness.wait_for(lambda: _get(port, "/healthz")[0] == 200, 30,
                     "/healthz to recover")
    assert scrape(port)[("wuzha_redis_up", "")] == 1
    # Only GET and HEAD; nothing else is served.
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("POST", "/metrics")
        assert c.getresponse().status == 501      # evhttp: not allowed
    finally:
        c.close()
    assert _get(port, "/nothing-here")[0] == 404
