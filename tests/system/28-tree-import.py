# SPDX-License-Identifier: ISC
"""
28-tree-import: wuzhactl tree import writes only what differs from the
tree in Redis, and what it leaves is exactly what a fresh import of the
same file leaves; one import runs at a time.
"""

import re

import pytest

import harness


TREE_KEYS = ("tree-nodes", "tree-principals")


def tree_state(env, prefix):
    """The tree's keys under prefix, as {name: contents}."""
    r = harness.Redis(env.redis_sock, prefix)
    try:
        return {k: v for k, v in r.dump().items() if k in TREE_KEYS}
    finally:
        r.close()


def changed_tree():
    """The demo tree with one of each kind of change."""
    t = harness.demo_tree()
    t.nodes = [n for n in t.nodes if n["id"] != "school-b-d2-c2"]
    t.principals = [p for p in t.principals if p["cn"] != "adv-b22"]
    for n in t.nodes:
        if n["id"] == "school-a":
            n["name"] = "学校A（新名）"
    t.node("school-a-d1-c3", "class", "school-a-d1")
    t.principal("adv-a13", "school-a-d1-c3", "receive")
    for p in t.principals:
        if p["cn"] == "adv-a12":
            p["node"] = "school-a-d2-c1"
        if p["cn"] == "liaison-a1":
            p["rights"] = ["receive", "observe"]
    return t


def _import(env, prefix=None):
    return env.run([harness.binary("wuzhactl"), "tree", "import",
                    env.tree_path, "--redis", env.redis_sock, "--prefix",
                    prefix or env.prefix], check=False)


def test_import_writes_the_difference_and_leaves_what_a_fresh_one_does(env):
    env.setup(daemon=False)
    gen = int(env.redis.get("tree-gen"))
    env.set_tree(changed_tree())
    r = _import(env)
    assert r.rc == 0, r
    m = re.fullmatch(r"imported 15 nodes, 15 principals \(generation (\d+)\):"
                     r" 2 nodes and 3 principals written, 1 and 1 removed;"
                     r" earlier alerts keep the counts they targeted\n",
                     r.out)
    assert m and int(m.group(1)) == gen + 1, r.out
    fresh = env.prefix + "fresh:"
    assert _import(env, fresh).rc == 0
    assert tree_state(env, env.prefix) == tree_state(env, fresh)
    # The same file again: nothing to write, a new generation all the same.
    r = _import(env)
    assert r.rc == 0, r
    assert r.out.endswith("(generation %d): 0 nodes and 0 principals "
                          "written, 0 and 0 removed\n" % (gen + 2)), r.out
    # And back to the demo tree: the state a fresh import of it leaves.
    env.set_tree(harness.demo_tree())
    assert _import(env).rc == 0
    assert _import(env, fresh).rc == 0
    assert tree_state(env, env.prefix) == tree_state(env, fresh)


def test_a_second_import_while_one_runs_is_refused(env):
    env.setup(daemon=False)
    env.redis.cmd("SET", env.prefix + "tree-import", "someone", "PX", 60000)
    before = tree_state(env, env.prefix)
    env.set_tree(changed_tree())
    r = _import(env)
    assert r.rc == 1, r
    assert "another tree import is running" in r.err, r
    assert tree_state(env, env.prefix) == before
    env.redis.cmd("DEL", env.prefix + "tree-import")
    assert _import(env).rc == 0
    # Its lock is gone once it is done.
    assert not env.redis.exists("tree-import")


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
