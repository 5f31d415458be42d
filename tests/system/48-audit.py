# SPDX-License-Identifier: ISC
"""
48-audit: the tamper-evident audit log.

- A real run (tree import, alerts, an update, a cancel of a held alert,
  agents acking, a tree change): every accepted envelope and tree change
  is a leaf, in order; wuzhad signs checkpoints whose roots match RFC 6962
  computed here with hashlib; `audit verify` passes and prints the size
  and the checkpoints, and so does `--from-file` on the daemon's mirror.
- One changed byte of one entry in Redis: verify names that entry.
- A cut tail (LTRIM below the last checkpoint): verify names the first
  missing index.
- A fork (the mirror and Redis part after a common prefix): verify names
  the first index where they part.
- Two daemons racing for a checkpoint: compare-and-append keeps one
  checkpoint per size.
- The mirror resumes after a restart, and a mirror that Redis does not
  continue stops wuzhad at start with a clear error.
- AUDIT_REQ is refused (201) to a principal that is not an observer at
  the top police unit.
"""

import hashlib
import json
import os
import re
import time

import pytest

import harness
import wuzha_proto as wp

PRIVATE_REDIS = True
EVERY = 4                       # audit.checkpoint_every in these tests


def audit_opts(env, path, every=EVERY, interval="1s", page_max=1000,
               **more):
    flow = '{%scheckpoint_every: %d, checkpoint_interval: "%s", ' \
        'page_max: %d}' % ('file: "%s", ' % path if path else "", every,
                           interval, page_max)
    top = {"audit": flow}
    top.update(more.pop("top", {}))
    return dict(top=top, **more)


@pytest.fixture
def aud(env):
    env.mirror = os.path.join(env.dir, "audit.log")
    env.setup(**audit_opts(env, env.mirror))
    return env


def log(env):
    return [bytes(x) for x in env.redis.cmd("LRANGE", env.prefix + "audit:log",
                                            0, -1)]


def cps(env):
    return [wp.audit_cp_parse(bytes(x)) for x in
            env.redis.cmd("LRANGE", env.prefix + "audit:cp", 0, -1)]


def wait_checkpoint(env, size, timeout=15):
    return harness.wait_for(
        lambda: [c for c in cps(env) if c["size"] >= size],
        timeout, "a checkpoint at %d entries or more" % size)


def wait_mirror(env, entries, checkpoints, timeout=15):
    def probe():
        recs = wp.audit_file_records(env.mirror)
        e = sum(1 for t, _ in recs if t == 1)
        c = sum(1 for t, _ in recs if t == 2)
        return e >= entries and c >= checkpoints and recs
    return harness.wait_for(probe, timeout, "the mirror to catch up")


def verify(env, *args, cn="officer-li"):
    r = env.ctl(cn, "audit", "verify", "--json", *args)
    try:
        out = json.loads(r.out)
    except ValueError:
        out = None
    return r, out


def busy_run(env):
    """Alerts, an update, a held alert cancelled, acks, a tree change."""
    agent = env.start_agent("adv-a11")
    agent.proc.wait_log(r"connected to .* welcome principal", timeout=15)
    a1, _, _ = env.publish("desk-a", "school-a", headline="校园贷诈骗预警")
    agent.wait_shown(a1)
    r = env.ctl("adv-a11", "ack", a1, "read")
    assert r.rc == 0, r
    a2, _, _ = env.publish("officer-li", "jn-police", headline="冒充公检法")
    agent.wait_shown(a2)
    up, _, _ = env.publish("officer-li", "jn-police", headline="冒充公检法（更新）",
                           extra=("--type", "update", "--references", a2))
    held = env.new_id("held")
    r = env.ctl("desk-a", "publish", "--target", "school-a", "--headline",
                "节前提醒", "--id", held, "--at", "+1h")
    assert r.rc == 0, r
    r = env.ctl("desk-a", "schedule", "cancel", held)
    assert r.rc == 0, r
    tree = harness.demo_tree()
    tree.node("school-c", "school", "jn-police", name="学校C")
    tree.principal("desk-c", "school-c", "receive", "issue", "observe")
    env.set_tree(tree)
    env.import_tree()
    # The agent's own acks (delivered, shown) are receipts of the log too
    # and may still be on their way: wait until the log stops growing.
    last, since = -1, time.monotonic()
    deadline = since + 15
    while time.monotonic() < deadline:
        n = int(env.redis.cmd("LLEN", env.prefix + "audit:log"))
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= 1.5:
            break
        time.sleep(0.1)
    return a1, a2, up, held


def test_real_run_verifies(aud):
    env = aud
    a1, a2, up, held = busy_run(env)
    entries = log(env)
    kinds = [wp.audit_entry_parse(e)["kind"] for e in entries]
    # Tree import, 2 alerts, an update, the held alert, its cancel (as a
    # withdrawal), the second tree import; among them the receipts of the
    # acks (kind 2), each signer's certificate (3) before its first one.
    assert [k for k in kinds if k not in (2, 3)] == [6, 1, 1, 1, 1, 7, 6], \
        kinds
    parsed = [wp.audit_entry_parse(e) for e in entries]
    assert {p["daemon"] for p in parsed[1:-1]} == {"wuzhad"}, parsed
    env_a1 = env.redis.hget_raw("alert:" + a1, "env")
    assert parsed[1]["data"] == env_a1
    certs = set()
    for p in parsed:
        if p["kind"] == 3:
            certs.add(hashlib.sha256(p["data"]).digest())
        elif p["kind"] == 2:
            assert wp.raw_fields(p["data"])[2] in certs, p
    receipts = [p for p in parsed if p["kind"] == 2]
    # adv-a11's delivered, shown (the agent) and read (wuzhactl) of a1,
    # at least its delivered of a2 and of the update.
    assert len(receipts) >= 5, kinds
    stored = {bytes(v) for v in env.redis.cmd(
        "HVALS", env.prefix + "rcpt:" + a1)}
    assert stored and stored <= {p["data"] for p in receipts}, stored
    tree_rec = wp.raw_fields(parsed[-1]["data"])
    assert b"n:school-c\t" in tree_rec[6] and b"p:desk-c\t" in tree_rec[6]

    cp = wait_checkpoint(env, len(entries))[-1]
    assert cp["size"] == len(entries)
    # The root, computed here from RFC 6962 with hashlib.
    assert cp["root"] == wp.audit_root(entries[:cp["size"]])
    for c in cps(env):
        assert c["root"] == wp.audit_root(entries[:c["size"]]), c
    sizes = [c["size"] for c in cps(env)]
    assert sizes == sorted(set(sizes)), sizes

    r, out = verify(env)
    assert r.rc == 0, r
    assert out["ok"] and out["entries"] == len(entries), out
    assert out["checkpoints"] == len(cps(env)) and out["verified"] == len(
        entries), out
    r = env.ctl("officer-li", "audit", "verify")
    assert r.rc == 0, r
    assert "%d entries, %d checkpoints" % (len(entries), len(cps(env))) in \
        r.out, r.out
    assert "ok:" in r.out, r.out

    wait_mirror(env, len(entries), len(cps(env)))
    r, out = verify(env, "--from-file", env.mirror)
    assert r.rc == 0, r
    assert out["ok"] and out["compared"] and out["entries"] == len(entries), \
        out
    assert out["other_entries"] == len(entries), out
    r, out = verify(env, "--from-file", env.mirror, "--only-file")
    assert r.rc == 0 and out["ok"] and not out["compared"], r


def test_changed_byte_names_the_entry(aud):
    env = aud
    busy_run(env)
    entries = log(env)
    wait_checkpoint(env, len(entries))
    wait_mirror(env, len(entries), 1)     # the file has the log untouched
    # The second alert: change one byte of its headline.
    kinds = [wp.audit_entry_parse(e)["kind"] for e in entries]
    n2 = [i for i, k in enumerate(kinds) if k == 1][1]
    e = bytearray(entries[n2])
    i = e.find("冒充".encode())
    assert i > 0
    e[i + 1] ^= 0x01
    env.redis.cmd("LSET", env.prefix + "audit:log", n2, bytes(e))
    r, out = verify(env)
    assert r.rc == 1, r
    fb = out["first_bad"]
    assert fb["index"] == n2 and fb["kind"] == "alert", out
    assert "signature" in fb["why"], out
    r = env.ctl("officer-li", "audit", "verify")
    assert r.rc == 1 and "first bad entry %d (alert)" % n2 in r.out, r.out
    # The same byte changed in a copy of the file instead.
    copy = os.path.join(env.dir, "copy.log")
    with open(env.mirror, "rb") as f:
        data = bytearray(f.read())
    j = data.find(entries[n2])
    assert j > 0
    data[j + i + 1] ^= 0x01
    with open(copy, "wb") as f:
        f.write(data)
    r, out = verify(env, "--from-file", copy, "--only-file")
    assert r.rc == 1 and out["first_bad"]["index"] == n2, out
    assert "signature" in out["first_bad"]["why"], out

    # A byte of an unsigned entry (the tree change at 0): the checkpoint
    # pins the interval; the mirror, compared, pins the entry.
    env.redis.cmd("LSET", env.prefix + "audit:log", n2, entries[n2])
    t = bytearray(entries[0])
    t[-1] ^= 0x01
    env.redis.cmd("LSET", env.prefix + "audit:log", 0, bytes(t))
    r, out = verify(env)
    assert r.rc == 1, r
    assert out["first_bad"]["index"] == 0, out
    r, out = verify(env, "--from-file", env.mirror)
    assert r.rc == 1, r
    assert out["first_bad"]["index"] == 0 and out["first_bad"]["what"] == \
        "fork", out
    assert any("daemon" in p["why"] and "does not match" in p["why"]
               for p in out["problems"]), out


def test_cut_tail_names_first_missing(aud):
    env = aud
    busy_run(env)
    entries = log(env)
    wait_checkpoint(env, len(entries))
    wait_mirror(env, len(entries), 1)
    env.stop_daemon()
    keep = len(entries) - 3
    env.redis.cmd("LTRIM", env.prefix + "audit:log", 0, keep - 1)
    env.start_daemon(**audit_opts(env, None))
    r, out = verify(env)
    assert r.rc == 1, r
    fb = out["first_bad"]
    assert fb["what"] == "cut" and fb["index"] == keep, out
    assert "missing" in fb["why"], out

    # The mirror, longer than Redis, is refused at start (stopped above
    # with the daemon's own copy; this one must not start on it).
    env.stop_daemon()
    env.start_daemon(wait=False, **audit_opts(env, env.mirror))
    env.daemon.wait_log(r"audit\.file .* disagrees with the log in Redis: "
                        r"the file holds \d+ entries", timeout=15)
    assert harness.wait_for(lambda: not env.daemon.alive(), 10,
                            "wuzhad to exit")
    env.daemon_rc = 0       # it was meant to stop


def test_fork_names_first_parting_index(aud):
    env = aud
    busy_run(env)
    entries = log(env)
    wait_checkpoint(env, len(entries))
    wait_mirror(env, len(entries), 1)
    env.stop_daemon()
    # Redis is rewritten from index 3 on (a different, validly signed
    # history after a common prefix of three entries).
    part = 3
    env.redis.cmd("LTRIM", env.prefix + "audit:log", 0, part - 1)
    env.redis.cmd("DEL", env.prefix + "audit:cp", env.prefix +
                  "audit:frontier")
    env.start_daemon(**audit_opts(env, None))
    other, _, _ = env.publish("desk-b", "school-b", headline="另一段历史")
    for _ in range(EVERY):
        env.publish("desk-b", "school-b", headline="另一段历史")
    wait_checkpoint(env, part + 1 + EVERY)
    r, out = verify(env, "--from-file", env.mirror)
    assert r.rc == 1, r
    fb = out["first_bad"]
    assert fb["index"] == part and fb["what"] == "fork", out
    # Each copy on its own still verifies against its own checkpoints.
    r, o2 = verify(env, "--from-file", env.mirror, "--only-file")
    assert r.rc == 0 and o2["ok"], r
    r, o3 = verify(env)
    assert r.rc == 0 and o3["ok"], r


def test_two_daemons_one_checkpoint_per_size(env):
    env.mirror = None
    # page_max 5: verify reads the log in pages.
    env.setup(**audit_opts(env, None, every=1, interval="100ms",
                           page_max=5, name="d-one"))
    env.start_daemon(**audit_opts(env, None, every=1, interval="100ms",
                                  page_max=5, name="d-two"))
    for i in range(20):
        env.publish("desk-a", "school-a", headline="竞争 %d" % i)
    n = len(log(env))
    wait_checkpoint(env, n)
    sizes = [c["size"] for c in cps(env)]
    assert sizes == sorted(set(sizes)), sizes
    entries = log(env)
    for c in cps(env):
        assert c["root"] == wp.audit_root(entries[:c["size"]])
    r, out = verify(env)
    assert r.rc == 0 and out["ok"], r
    # The frontier in Redis is the last checkpoint's.
    f = env.redis.get("audit:frontier")
    assert int(f.split()[0]) == sizes[-1], f


def _cp_script():
    """daemon/lua/audit_cp.lua with its ARG names made ARGV, as embed.py
    does for wuzhad."""
    path = os.path.join(harness.SRC, "daemon", "lua", "audit_cp.lua")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    args = re.findall(r"^--@arg ([a-z_]+)$", text, re.M)
    return re.sub(r"\bARG\.([a-z_]+)",
                  lambda m: "ARGV[%d]" % (args.index(m.group(1)) + 1), text)


def test_compare_and_append_refuses_a_stale_size(aud):
    env = aud
    for i in range(EVERY):
        env.publish("desk-a", "school-a", headline="陈旧 %d" % i)
    wait_checkpoint(env, EVERY + 1)
    before = cps(env)
    frontier = env.redis.get("audit:frontier")
    last = bytes(env.redis.cmd("LINDEX", env.prefix + "audit:cp", -1))
    # A daemon that started from size 0 (stale: the log has a checkpoint
    # since) offers one: nothing is written, the frontier stays.
    got = env.redis.cmd("EVAL", _cp_script(), 0, env.prefix, "0",
                        str(before[-1]["size"]), b"stale", "0",
                        "d-stale")
    assert got == 0
    assert cps(env) == before and env.redis.get("audit:frontier") == frontier
    # From the right size it would go in: the script is the one that
    # decides, not the daemons' lock.
    got = env.redis.cmd("EVAL", _cp_script(), 0, env.prefix,
                        str(before[-1]["size"]), str(before[-1]["size"]),
                        last, frontier, "d-other")
    assert got == 1
    assert len(cps(env)) == len(before) + 1


def test_mirror_resumes_after_restart(aud):
    env = aud
    for i in range(3):
        env.publish("desk-a", "school-a", headline="第一段 %d" % i)
    wait_checkpoint(env, 4)
    wait_mirror(env, 4, 1)
    env.stop_daemon()
    env.start_daemon(**audit_opts(env, env.mirror))
    env.daemon.wait_log(r"mirror .* holds 4 entries and \d+ checkpoints; "
                        r"resuming", timeout=10)
    for i in range(4):
        env.publish("desk-a", "school-a", headline="第二段 %d" % i)
    entries = log(env)
    wait_checkpoint(env, len(entries))
    recs = wait_mirror(env, len(entries), len(cps(env)))
    assert [b for t, b in recs if t == 1] == entries
    assert [b for t, b in recs if t == 2] == [
        bytes(x) for x in env.redis.cmd("LRANGE", env.prefix + "audit:cp",
                                        0, -1)]
    r, out = verify(env, "--from-file", env.mirror)
    assert r.rc == 0 and out["ok"] and out["compared"], r


def test_audit_req_refused_below_the_top(aud):
    env = aud
    r = env.ctl("desk-a", "audit", "verify")
    assert r.rc == 2, r
    assert "forbidden (201)" in r.err and "top of the tree" in r.err, r.err


def test_audit_req_pages_and_range(env):
    env.setup(**audit_opts(env, None, page_max=3))
    for i in range(4):
        env.publish("desk-a", "school-a", headline="分页 %d" % i)
    entries = log(env)
    assert len(entries) == 5
    s, _ = env.session("officer-li", role=wp.ROLE_CONSOLE)
    try:
        s.send(wp.AUDIT_REQ, wp.fields([(1, wp.u8(wp.AUDIT_W_ENTRIES))]))
        m = s.expect(wp.AUDIT)
        assert m["from"] == 0 and m["total"] == 5, m
        assert [it["data"] for it in m["items"]] == entries[:3]
        s.send(wp.AUDIT_REQ, wp.fields([(1, wp.u8(wp.AUDIT_W_ENTRIES)),
                                        (2, wp.u64(3)), (3, wp.u32(10))]))
        m = s.expect(wp.AUDIT)
        assert m["from"] == 3 and [it["data"] for it in m["items"]] == \
            entries[3:], m
        # From the very end: an empty page; past it: 330.
        s.send(wp.AUDIT_REQ, wp.fields([(1, wp.u8(wp.AUDIT_W_ENTRIES)),
                                        (2, wp.u64(5))]))
        m = s.expect(wp.AUDIT)
        assert m["items"] == [] and m["total"] == 5, m
        s.send(wp.AUDIT_REQ, wp.fields([(1, wp.u8(wp.AUDIT_W_ENTRIES)),
                                        (2, wp.u64(6))]))
        m = s.expect(wp.ERROR)
        assert m["code"] == 330 and "past its end" in m["text"], m
        s.send(wp.AUDIT_REQ, wp.fields([(1, wp.u8(3))]))
        m = s.expect(wp.ERROR)
        assert m["code"] == wp.E_VALUE, m
    finally:
        s.close()


def test_audit_pages_stop_at_the_frame(env):
    env.setup(**audit_opts(env, None, limits={"max_frame": 8192,
                                              "max_text": 4096}))
    for i in range(10):
        env.publish("desk-a", "school-a", headline="整帧 %d" % i,
                    text="防范电信网络诈骗" * 20)
    entries = log(env)
    assert sum(len(e) for e in entries) > 8192
    s, _ = env.session("officer-li", role=wp.ROLE_CONSOLE)
    try:
        got, calls = [], 0
        while len(got) < len(entries):
            req = [(1, wp.u8(wp.AUDIT_W_ENTRIES))]
            if got:         # from 0 is sent as no from at all
                req.append((2, wp.u64(len(got))))
            s.send(wp.AUDIT_REQ, wp.fields(req))
            m = s.expect(wp.AUDIT)
            assert m["items"], m
            got += [it["data"] for it in m["items"]]
            calls += 1
        assert got == entries and calls >= 2, calls
    finally:
        s.close()
    r, out = verify(env)
    assert r.rc == 0 and out["ok"] and out["entries"] == len(entries), r


def test_checkpoint_signed_by_a_principal_is_refused(aud):
    """Redis write access and an officer's key do not make a checkpoint."""
    env = aud
    env.publish("desk-a", "school-a", headline="伪造检查点")
    entries = log(env)
    body = wp.fields([(1, wp.u8(1)), (2, wp.u64(len(entries))),
                      (3, wp.audit_root(entries)),
                      (4, wp.u64(int(time.time() * 1000))),
                      (5, wp.text("wuzhad"))])
    key = wp.load_key(env.key("officer-li"))
    cert = wp.der(wp.load_cert(env.crt("officer-li")))
    forged = wp.fields([(1, body), (2, cert),
                        (3, key.sign(wp.AUDIT_CP_CONTEXT + body))])
    env.redis.cmd("RPUSH", env.prefix + "audit:cp", forged)
    r, out = verify(env)
    assert r.rc == 1, r
    assert any("not a server's" in p["why"] for p in out["problems"]), out


def test_start_refused_on_a_torn_or_forked_mirror(aud):
    env = aud
    for i in range(2):
        env.publish("desk-a", "school-a", headline="镜像 %d" % i)
    n = len(log(env))
    wait_mirror(env, n, 0)
    env.stop_daemon()
    with open(env.mirror, "rb") as f:
        good = f.read()
    # Torn: the last record cut short.
    with open(env.mirror, "wb") as f:
        f.write(good[:-3])
    env.start_daemon(wait=False, **audit_opts(env, env.mirror))
    env.daemon.wait_log(r"audit\.file .*: ends inside the record at byte "
                        r"\d+ \(entry \d+\): cut or torn", timeout=15)
    assert harness.wait_for(lambda: not env.daemon.alive(), 10, "exit")
    # Forked: the file's last entry is not Redis's.
    last = bytearray(log(env)[-1])
    last[-1] ^= 1
    env.redis.cmd("LSET", env.prefix + "audit:log", n - 1, bytes(last))
    with open(env.mirror, "wb") as f:
        f.write(good)
    env.start_daemon(wait=False, **audit_opts(env, env.mirror))
    env.daemon.wait_log(r"disagrees with the log in Redis: entry %d differs"
                        % (n - 1), timeout=15)
    assert harness.wait_for(lambda: not env.daemon.alive(), 10, "exit")
    env.daemon_rc = 0       # both were meant to stop
