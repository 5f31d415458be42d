# SPDX-License-Identifier: ISC
"""
32-tree-layout: the tree in Redis is two hashes, tree-nodes and
tree-principals; an import into a Redis that holds the layout before them
(sets nodes and principals, a hash per node and per principal, children
and members sets) moves it over and removes the old keys; every import
leaves tree-diff:{g+1}, what changed, and keeps the last 64 of them.
"""

import pytest

import harness


OLD_PREFIXES = ("node:", "principal:", "children:", "members:")


def _import(env):
    return env.run([harness.binary("wuzhactl"), "tree", "import",
                    env.tree_path, "--redis", env.redis_sock, "--prefix",
                    env.prefix], check=False)


def _export(env, prefix=None):
    r = env.run([harness.binary("wuzhactl"), "tree", "export", "--redis",
                 env.redis_sock, "--prefix", prefix or env.prefix],
                check=False)
    assert r.rc == 0, r
    return r.out


def _write_old_layout(env, tree, gen):
    """The demo tree as the old import wrote it."""
    r = env.redis
    for n in tree.nodes:
        r.cmd("SADD", r.k("nodes"), n["id"])
        r.cmd("HSET", r.k("node:" + n["id"]), "name", n["name"], "tier",
              n["tier"], "parent", n["parent"] or "")
        if n["parent"]:
            r.cmd("SADD", r.k("children:" + n["parent"]), n["id"])
    for p in tree.principals:
        r.cmd("SADD", r.k("principals"), p["cn"])
        r.cmd("HSET", r.k("principal:" + p["cn"]), "node", p["node"],
              "rights", ",".join(p["rights"]))
        r.cmd("SADD", r.k("members:" + p["node"]), p["cn"])
    r.cmd("SET", r.k("tree-gen"), str(gen))


def _old_keys(env):
    return sorted(k for k in env.redis.keys()
                  if k in ("nodes", "principals") or k.startswith(OLD_PREFIXES))


def test_an_import_migrates_the_old_layout_and_removes_its_keys(env):
    tree = harness.demo_tree()
    env.set_tree(tree)
    env.start_redis()
    env.make_pki(None)
    _write_old_layout(env, tree, 7)
    # A Redis left in the old layout (and a key that only looks like it).
    env.redis.cmd("SET", env.redis.k("node-alerts:x"), "keep")
    assert len(_old_keys(env)) == 2 + 15 + 15 + 7 + 15
    # wuzhad does not read the old layout: it says so and waits.
    env.start_daemon(wait=False)
    env.daemon.wait_log(r"old layout .*wuzhactl tree import", timeout=15)
    r = _import(env)
    assert r.rc == 0, r
    assert "(generation 8): 15 nodes and 15 principals written, 0 and 0 " \
        "removed" in r.out, r.out
    assert "migrated from the old layout" in r.out, r.out
    assert _old_keys(env) == []
    assert env.redis.get("node-alerts:x") == "keep"
    assert env.redis.hlen("tree-nodes") == 15
    assert env.redis.hlen("tree-principals") == 15
    assert env.redis.hget_raw("tree-nodes", "school-a") == \
        "school:jn-police:学校A".encode()
    assert env.redis.hget_raw("tree-principals", "desk-a") == \
        b"school-a:receive,issue,observe"
    # Same tree, so the diff of generation 8 is empty.
    assert env.redis.hgetall("tree-diff:8") == {"gen": "8"}
    # The daemon picks the tree up and listens.
    m = env.daemon.wait_log(r"listening on 127\.0\.0\.1:(\d+)", timeout=30)
    env.port = int(m.group(1))
    env.daemon.wait_log(r"tree: generation 8: 15 nodes, 15 principals",
                        timeout=5)
    fs, welcome = env.session("adv-a11")
    fs.close()
    # What an export gives back is what a fresh import of the file gives.
    fresh = env.prefix + "fresh:"
    assert env.run([harness.binary("wuzhactl"), "tree", "import",
                    env.tree_path, "--redis", env.redis_sock, "--prefix",
                    fresh]).rc == 0
    assert _export(env) == _export(env, fresh)


def test_each_import_writes_what_changed_and_keeps_64_diffs(env):
    env.setup(daemon=False)
    gen = int(env.redis.get("tree-gen"))
    t = harness.demo_tree()
    t.nodes = [n for n in t.nodes if n["id"] != "school-b-d2-c2"]
    t.principals = [p for p in t.principals if p["cn"] != "adv-b22"]
    t.node("school-a-d1-c3", "class", "school-a-d1", name="三班: 新")
    t.principal("adv-a13", "school-a-d1-c3", "receive")
    for p in t.principals:
        if p["cn"] == "liaison-a1":
            p["rights"] = ["receive", "observe"]
    env.set_tree(t)
    assert _import(env).rc == 0
    assert env.redis.hgetall("tree-diff:%d" % (gen + 1)) == {
        "gen": str(gen + 1),
        "n:school-b-d2-c2": "",
        "p:adv-b22": "",
        "n:school-a-d1-c3": "class:school-a-d1:三班: 新",
        "p:adv-a13": "school-a-d1-c3:receive",
        "p:liaison-a1": "school-a-d1:receive,observe",
    }
    # A name with ':' in it comes back whole.
    assert "三班: 新" in _export(env)
    for _ in range(66):
        assert _import(env).rc == 0
    last = gen + 67
    assert int(env.redis.get("tree-gen")) == last
    kept = sorted(int(k.split(":")[1]) for k in env.redis.keys()
                  if k.startswith("tree-diff:"))
    assert kept == list(range(last - 63, last + 1)), kept


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
