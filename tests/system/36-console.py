# SPDX-License-Identifier: ISC
"""
36-console: the console's rough edges.  wuzhactl's own options (-c FILE,
-t SECONDS, -d) work after the verb as before it.
"""

import os

import harness

TEMPLATES = os.path.join(harness.SRC, "conf", "templates")


def test_config_option_after_the_verb(wz, monkeypatch):
    monkeypatch.setenv("WUZHA_TEMPLATES", TEMPLATES)
    aid, _, _ = wz.publish("desk-a", "school-a-d1")
    conf = wz.client_conf("desk-a")
    ctl = harness.binary("wuzhactl")
    before = wz.run([ctl, "-c", conf, "status", aid])
    assert before.rc == 0, before
    for argv in (["status", "-c", conf, aid], ["status", aid, "-c", conf],
                 ["status", "-c" + conf, "-t", "5", aid],
                 ["status", "--depth", "1", "-c", conf, aid]):
        r = wz.run([ctl] + argv, check=False)
        assert r.rc == 0, r
        if argv[1:3] != ["--depth", "1"]:
            assert r.out == before.out, r
    # Every other network verb, and the file verbs, take it too.
    for argv in (["agents", "-c", conf], ["schedule", "list", "-c", conf],
                 ["pending", aid, "-c", conf], ["templates", "-c", conf],
                 ["report", "-c", conf, "--from", "-1d", "--to", "now"],
                 ["ack", "-c", wz.client_conf("adv-a11"), aid, "read"],
                 ["publish", "-c", conf, "--target", "school-a",
                  "--headline", "后置 -c", "--id", wz.new_id("c")],
                 ["tree", "principals", "-c", conf, wz.tree_path]):
        r = wz.run([ctl] + argv, check=False)
        assert r.rc == 0, r
    # The option's file is the one used: a missing one is said so.
    r = wz.run([ctl, "status", "-c", "/nonexistent/ctl.yaml", aid],
               check=False)
    assert r.rc == 1 and "/nonexistent/ctl.yaml" in r.err, r
    r = wz.run([ctl, "status", aid, "-t", "0"], check=False)
    assert r.rc == 2 and "-t 0: expected seconds" in r.err, r
    # A verb's long option whose letter is c, d or t is still the verb's.
    r = wz.run([ctl, "status", "-c", conf, aid, "--depth", "x"], check=False)
    assert r.rc == 2 and "--depth x" in r.err, r
