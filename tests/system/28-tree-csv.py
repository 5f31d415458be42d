# SPDX-License-Identifier: ISC
"""
28-tree-csv: class lists kept as CSV (what schools keep them in: one row
per class) imported with the tree file: wuzhactl tree import FILE --csv
CLASSES.csv.  The result is the tree the same classes written in YAML give,
wuzhad serves it, and every kind of bad file is refused with its line and
nothing written.
"""

import os

import harness

HEADER = "学校,学校名称,年级,年级名称,班级,班级名称,班主任,备注\r\n"


def base_tree():
    t = harness.Tree()
    t.node("pol", "police", name="济南市公安局")
    t.principal("officer", "pol", "issue", "observe")
    t.node("s1", "school", "pol", name="实验中学")
    t.principal("desk-s1", "s1", "observe")
    return t


def full_tree():
    """What the CSV below adds, written as YAML."""
    t = base_tree()
    t.node("s1-g7", "department", "s1", name="初一年级")
    t.node("s1-g7-c1", "class", "s1-g7", name="初一(1)班, 实验")
    t.principal("adv-71", "s1-g7-c1", "receive")
    t.principal("adv-71b", "s1-g7-c1", "receive")
    t.node("s1-g7-c2", "class", "s1-g7", name="s1-g7-c2")
    t.principal("adv-72", "s1-g7-c2", "receive")
    t.node("s2", "school", "pol", name="育英中学")
    t.node("s2-g1", "department", "s2", name="高一")
    t.node("s2-g1-c1", "class", "s2-g1", name='高一"1"班')
    return t


CSV = ("\ufeff" + HEADER +
       's1,实验中学,s1-g7,初一年级,s1-g7-c1,"初一(1)班, 实验",adv-71,"a, ""note"""\r\n'
       "s1,,s1-g7,,s1-g7-c1,,adv-71b,\r\n"
       "s1,,s1-g7,,s1-g7-c2,,adv-72,\r\n"
       "\r\n"
       's2,育英中学,s2-g1,高一,s2-g1-c1,"高一""1""班",,\r\n')


def _write(env, name, text):
    path = os.path.join(env.dir, name)
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    with open(path, "wb") as f:
        f.write(data)
    return path


def _import(env, *extra, prefix=None):
    return env.run([harness.binary("wuzhactl"), "tree", "import",
                    env.tree_path, *extra, "--redis", env.redis_sock,
                    "--prefix", prefix or env.prefix], check=False)


def _export(env, prefix):
    r = env.run([harness.binary("wuzhactl"), "tree", "export", "--redis",
                 env.redis_sock, "--prefix", prefix], check=False)
    assert r.rc == 0, r
    return r.out


def test_csv_classes_make_the_tree_the_yaml_makes(env):
    env.set_tree(full_tree())
    env.start_redis()
    yaml_prefix = env.prefix + "yaml:"
    assert _import(env, prefix=yaml_prefix).rc == 0
    csv = _write(env, "classes.csv", CSV)
    env.set_tree(base_tree())
    r = _import(env, "--csv", csv, "--police", "pol")
    assert r.rc == 0, r
    assert r.out.startswith("imported 8 nodes, 5 principals"), r.out
    assert _export(env, env.prefix) == _export(env, yaml_prefix)
    # The CA script's list has the advisors, with their paths.
    r = env.run([harness.binary("wuzhactl"), "tree", "principals",
                 env.tree_path, "--csv", csv, "--police", "pol"])
    assert "adv-72 s1-g7-c2 receive pol/s1/s1-g7/s1-g7-c2\n" in r.out, r.out
    # And wuzhad serves it: an alert to the first school reaches its three.
    env.set_tree(full_tree())
    env.make_pki(["officer"])
    env.start_daemon()
    _, _, targeted = env.publish("officer", "s1")
    assert targeted == 3


def test_a_police_column_and_a_second_file(env):
    env.set_tree(base_tree())
    env.start_redis()
    a = _write(env, "a.csv", "police,school,department,class,advisor\n"
               "pol,s1,s1-d1,s1-d1-c1,adv-1\n")
    b = _write(env, "b.csv", "class,department,school,police\n"
               "s9-d1-c1,s9-d1,s9,pol\n")
    r = _import(env, "--csv", a, "--csv", b)
    assert r.rc == 0, r
    out = _export(env, env.prefix)
    for nid in ("s1-d1-c1", "s9", "s9-d1", "s9-d1-c1"):
        assert "id: \"%s\"\n" % nid in out, out


def test_bad_class_lists_are_refused_by_line_and_nothing_is_written(env):
    env.set_tree(base_tree())
    env.start_redis()
    assert _import(env).rc == 0
    gen = env.redis.get("tree-gen")
    cases = [
        ("", "empty: the first row must name the columns"),
        ("名字,电话\nx,1\n", ":1: the first row must name the columns"),
        (HEADER + 's1,,s1-g7,,"s1-g7-c1,,,\n', ":2: a quoted field is not "
         "closed"),
        (HEADER + "s1,,s1-g7,,S1-G7-C1,,,\n",
         ':2: class: invalid node id "S1-G7-C1"'),
        (HEADER + "s1,,s1-g7,,s1-g7-c1,,adv 1,\n",
         ':2: advisor: invalid CN "adv 1"'),
        (HEADER + "s1,,s1-g7,,s1-g7-c1,,desk-s1,\n",
         ":2: advisor desk-s1 is a principal of the tree file already"),
        (HEADER + "s1,,s1-g7,,s1-g7-c1,,a1,\ns1,,s1-g8,,s1-g7-c1,,a2,\n",
         ":3: class s1-g7-c1: already a class under s1-g7 (line 2), not a "
         "class under s1-g8"),
        (HEADER + "s1,,s1-g7,,s1-g7-c1,,a1,\ns1,,s1-g7,,s1-g7-c2,,a1,\n",
         ":3: advisor CN given twice (first at line 2)"),
        (HEADER + "s1,别的名字,s1-g7,,s1-g7-c1,,,\n",
         ':2: school s1: named "别的名字", but "实验中学"'),
        (HEADER + "s1,,s1-g7,,s1-g7-c1\n", ":2: 5 fields, but the first row "
         "has more"),
        (HEADER + "s1,,s1-g7,,%s,,,\n" % ("c" * 65), ":2: class: invalid "
         "node id"),
        (HEADER + "s1,,s1-g7,,s1-g7-c1,\"x\"y,,\n", ":2: text after a "
         "closing quote"),
        (HEADER.encode() + b"s1,,s1-g7,\xe5\x88,s1-g7-c1,,,\n",
         ":2: department s1-g7: the name is not UTF-8 text"),
    ]
    for i, (text, want) in enumerate(cases):
        path = _write(env, "bad%d.csv" % i, text)
        r = _import(env, "--csv", path, "--police", "pol")
        assert r.rc == 1, (text, r)
        assert want in r.err and ("bad%d.csv:" % i) in r.err, (text, r.err)
    # No police column, and no --police.
    path = _write(env, "nocol.csv", "school,department,class\ns1,d,c\n")
    r = _import(env, "--csv", path)
    assert r.rc == 1 and "nocol.csv:1: no police column, and no police " \
        "unit given" in r.err, r
    # A police unit the tree does not have.
    path = _write(env, "nopol.csv", "school,department,class\ns1,d,c\n")
    r = _import(env, "--csv", path, "--police", "nope")
    assert r.rc == 1 and ":2: nope is not a police unit of the tree" in \
        r.err, r
    assert env.redis.get("tree-gen") == gen
