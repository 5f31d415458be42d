# SPDX-License-Identifier: ISC
"""
34-help: every program says how it is used when asked (--help, -h, and
for wuzhactl `help [VERB]` and `VERB --help`), on stdout with exit 0, and
what version it is (--version); a wrong option still says the usage on
stderr with exit 2.
"""

import os
import re
import subprocess

import harness


def _run(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True,
                          timeout=harness.CMD_TIMEOUT, check=False)


def _version():
    with open(os.path.join(harness.SRC, "meson.build"),
              encoding="utf-8") as f:
        return re.search(r"version: '([^']+)'", f.read()).group(1)


def test_wuzhactl_help_lists_every_verb():
    ctl = harness.binary("wuzhactl")
    for how in (["--help"], ["-h"], ["help"]):
        r = _run(ctl, *how)
        assert r.returncode == 0 and r.stderr == "", (how, r)
        assert r.stdout.startswith("usage: wuzhactl "), (how, r.stdout)
        for verb in ("publish", "status ID", "tree import FILE", "agents",
                     "report", "help [VERB]"):
            assert "\n  " + verb in r.stdout, (how, verb)


def test_wuzhactl_help_of_one_verb():
    ctl = harness.binary("wuzhactl")
    for how in (["help", "publish"], ["publish", "--help"],
                ["publish", "-h"], ["-c", "/nonexistent.yaml", "publish",
                                    "--help"]):
        r = _run(ctl, *how)
        assert r.returncode == 0, (how, r)
        first = r.stdout.splitlines()[0]
        assert first.startswith("usage: wuzhactl [-c ctl.yaml] [-t SECONDS] "
                                "publish --target NODE --headline TEXT"), \
            (how, first)
        assert "sign an alert with our own key" in r.stdout, (how, r.stdout)
    for how in (["help", "tree", "import"], ["tree", "import", "--help"]):
        r = _run(ctl, *how)
        assert r.returncode == 0, (how, r)
        assert "tree import FILE [--csv" in r.stdout, (how, r.stdout)
    r = _run(ctl, "status", "--help")
    assert r.returncode == 0 and " status ID [--node NODE]" in r.stdout, r


def test_wuzhactl_help_of_an_unknown_verb_fails():
    ctl = harness.binary("wuzhactl")
    r = _run(ctl, "help", "pubish")
    assert r.returncode == 2 and r.stdout == "", r
    assert "wuzhactl: help: unknown verb: pubish (did you mean publish?)" \
        in r.stderr, r
    for word, near in (("pubish", "publish"), ("stauts", "status"),
                       ("reprot", "report")):
        r = _run(ctl, "-c", "/nonexistent.yaml", word)
        assert r.returncode == 2, r
        assert r.stderr.startswith("wuzhactl: unknown verb: %s (did you "
                                   "mean %s?)\n" % (word, near)), r
    for word in ("xyzzy", "tree"):
        r = _run(ctl, "-c", "/nonexistent.yaml", word)
        assert r.returncode == 2 and "did you mean" not in r.stderr, r
    r = _run(ctl, "help", "publish", "extra", "words")
    assert r.returncode == 2 and "usage: wuzhactl" in r.stderr, r


def test_every_program_says_its_version():
    want = _version()
    for prog in ("wuzhactl", "wuzhad", "wuzha-agent"):
        r = _run(harness.binary(prog), "--version")
        assert r.returncode == 0, (prog, r)
        assert r.stdout == "%s %s\n" % (prog, want), (prog, r.stdout)


def test_daemon_and_agent_help_and_bad_options():
    for prog, must in (("wuzhad", ["--check-config", "--config FILE",
                                   "SIGHUP"]),
                       ("wuzha-agent", ["-c agent.yaml", "SIGHUP"])):
        for how in ("--help", "-h"):
            r = _run(harness.binary(prog), how)
            assert r.returncode == 0 and r.stderr == "", (prog, how, r)
            assert r.stdout.startswith("usage: %s " % prog), (prog, r.stdout)
            for m in must:
                assert m in r.stdout, (prog, how, m)
        r = _run(harness.binary(prog), "--no-such-option")
        assert r.returncode == 2 and r.stdout == "", (prog, r)
        assert "usage: %s " % prog in r.stderr, (prog, r)


def test_publish_says_what_is_missing_before_the_usage():
    ctl = harness.binary("wuzhactl")
    for args, said in (
            (["--target", "school-a"], "--headline TEXT is required"),
            (["--headline", "x"], "--target NODE is required"),
            (["--target", "s", "--headline", "x", "stray"],
             "unexpected argument stray"),
            (["--target", "s", "--headline", "x", "--text", "a",
              "--text-file", "-"], "--text and --text-file cannot both")):
        r = _run(ctl, "-c", "/nonexistent.yaml", "publish", *args)
        assert r.returncode == 2, (args, r)
        lines = r.stderr.splitlines()
        assert lines[0].startswith("wuzhactl: publish: " + said), \
            (args, lines)
        assert lines[1].startswith("usage: wuzhactl "), (args, lines)
