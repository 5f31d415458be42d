# SPDX-License-Identifier: ISC
"""
38-hooks-shipped: the hooks of hooks/, run as the agent runs them (the
alert in WUZHA_* variables, its text on stdin).

wuzha-notify, on a real session bus (dbus-run-session) whose notification
server is notify_server.py: summary, body, urgency and app name for a
severe alert, a drill, a reminder of a cancel; alert text with $(...),
backticks, quotes and a leading -h comes through literally (and the body
markup-escaped), nothing of it run; with WUZHA_INBOX_URL the notification
offers 打开收件箱, the hook returns once it is shown, and a click runs
xdg-open on the URL; without a notification server it fails, so that the
agent tries again.

wuzha-speak -w: a WAV (RIFF/WAVE) of a Chinese headline, over a second
long, longer when repeated twice than once; a headline starting with -
is said, not taken as an option; an unwritable file and a bad -r fail.

Without notify-send, dbus-run-session, espeak-ng or python3-dbus the test
is skipped (exit 77), saying which; scripts/deps installs them all.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import wave

import harness

HOOKS = os.path.join(harness.SRC, "hooks")
SERVER = os.path.join(harness.HERE, "notify_server.py")
NEEDS = [("notify-send", "libnotify-bin"), ("dbus-run-session", "dbus"),
         ("espeak-ng", "espeak-ng")]


def _skip_if_missing():
    missing = ["%s (Debian package %s)" % (p, pkg) for p, pkg in NEEDS
               if shutil.which(p) is None]
    try:
        import dbus  # noqa: F401
        import gi  # noqa: F401
    except ImportError:
        missing.append("the Python modules dbus and gi (Debian packages "
                       "python3-dbus, python3-gi)")
    if missing:
        # 77 is meson's "skipped"; pytest would call it passed.
        sys.stderr.write("38-hooks-shipped: SKIP: not installed: %s; "
                         "scripts/deps installs them\n" % ", ".join(missing))
        sys.stderr.flush()
        os._exit(77)


_skip_if_missing()

import pytest  # noqa: E402

TIMEOUT = 30


def alert_env(**kw):
    """WUZHA_* as the agent sets them, for a severe warning; kw overrides
    (HEADLINE="x" sets WUZHA_HEADLINE)."""
    env = {
        "WUZHA_ID": "t-38", "WUZHA_SEQ": "7", "WUZHA_ISSUER": "officer-li",
        "WUZHA_TARGET": "school-a", "WUZHA_TYPE": "alert",
        "WUZHA_REFERENCES": "", "WUZHA_CATEGORY": "warning",
        "WUZHA_SEVERITY": "severe", "WUZHA_HEADLINE": "冒充公检法诈骗预警",
        "WUZHA_INSTRUCTION": "不要向任何“安全账户”转账",
        "WUZHA_ISSUED_AT": "1796300000000",
        "WUZHA_EXPIRES_AT": "1796400000000", "WUZHA_RELAY_REQUIRED": "1",
        "WUZHA_REMINDER": "0", "WUZHA_PRINCIPAL": "adv-a11",
        "WUZHA_STATUS": "actual", "WUZHA_DRILL": "0",
        "WUZHA_PUBLISH_AT": "0",
    }
    for k, v in kw.items():
        env["WUZHA_" + k] = v
    return env


def run_hook(argv, wz_env, extra_env=None, path=None, stdin=b"text"):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WUZHA_")}
    env.update(wz_env)
    env.update(extra_env or {})
    if path:
        env["PATH"] = path + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    t0 = time.monotonic()
    r = subprocess.run(argv, input=stdin, capture_output=True, env=env,
                       timeout=TIMEOUT)
    return r, time.monotonic() - t0


class Bus:
    """A session bus of its own (dbus-run-session) with the stand-in
    notification server on it; every Notify lands in self.record."""

    def __init__(self, tmp, invoke=None):
        self.record = os.path.join(tmp, "notify.jsonl")
        self.out = os.path.join(tmp, "server.out")
        self.err = open(os.path.join(tmp, "server.log"), "ab")
        argv = ["dbus-run-session", "--", harness.PYTHON, SERVER,
                self.record]
        if invoke:
            argv += ["--invoke", invoke]
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=self.err,
                                         stdin=subprocess.DEVNULL)
        line = harness.wait_for(self._ready, 15, "the notification server")
        _, pid, self.address = line.split(" ", 2)
        self.server_pid = int(pid)

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("dbus-run-session exited: %s" %
                                 open(self.err.name).read())
        with open(self.out) as f:
            for ln in f.read().split("\n")[:-1]:
                if ln.startswith("ready "):
                    return ln
        return None

    def env(self):
        return {"DBUS_SESSION_BUS_ADDRESS": self.address}

    def calls(self):
        try:
            with open(self.record, encoding="utf-8") as f:
                return [json.loads(ln) for ln in f.read().split("\n")[:-1]]
        except FileNotFoundError:
            return []

    def stop(self):
        # The server by its pid; dbus-run-session then ends its bus.
        try:
            os.kill(self.server_pid, 15)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.err.close()


@pytest.fixture
def bus(tmp_path):
    b = Bus(str(tmp_path), invoke="inbox")
    try:
        yield b
    finally:
        b.stop()


NOTIFY = os.path.join(HOOKS, "wuzha-notify")
SPEAK = os.path.join(HOOKS, "wuzha-speak")


def notify(bus, **kw):
    extra = kw.pop("extra_env", None)
    path = kw.pop("path", None)
    env = dict(bus.env(), **(extra or {}))
    n = len(bus.calls())
    r, took = run_hook([NOTIFY], alert_env(**kw), env, path=path)
    assert r.returncode == 0, r
    calls = harness.wait_for(lambda: bus.calls()[n:] or None, 5,
                             "the Notify call")
    assert len(calls) == 1, calls
    return calls[0], took


def test_notify_severe_alert_is_critical(bus):
    c, _ = notify(bus)
    assert c["app"] == "wuzha"
    assert c["summary"] == "冒充公检法诈骗预警"
    assert c["body"] == "不要向任何“安全账户”转账"
    assert c["urgency"] == 2
    assert c["actions"] == []


def test_notify_drill_reminder_cancel_marked_and_urgency(bus):
    c, _ = notify(bus, DRILL="1", STATUS="exercise", SEVERITY="minor",
                  HEADLINE="演练：刷单诈骗")
    assert c["summary"] == "【演练】演练：刷单诈骗"
    assert c["urgency"] == 0
    c, _ = notify(bus, TYPE="cancel", REFERENCES="officer-li,t-1,1",
                  REMINDER="1", SEVERITY="moderate", HEADLINE="撤销预警")
    assert c["summary"] == "【取消】【提醒】撤销预警"
    assert c["urgency"] == 1
    c, _ = notify(bus, SEVERITY="extreme")
    assert c["urgency"] == 2
    c, _ = notify(bus, SEVERITY="unknown")
    assert c["urgency"] == 0


def test_notify_hostile_text_passes_literally(bus, tmp_path):
    canary = str(tmp_path / "pwned")
    headline = "-h $(touch %s) `touch %s` \"q\" 's' ;touch %s" % (
        canary, canary, canary)
    instruction = "--urgency=low $(touch %s) <b>x</b> & 'y' \"z\"" % canary
    c, _ = notify(bus, HEADLINE=headline, INSTRUCTION=instruction)
    assert c["summary"] == headline
    assert c["body"] == ("--urgency=low $(touch %s) &lt;b&gt;x&lt;/b&gt; "
                         "&amp; 'y' \"z\"" % canary)
    assert c["urgency"] == 2
    assert not os.path.exists(canary)


def test_notify_inbox_action_opens_the_page(bus, tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    opened = tmp_path / "opened"
    (fake / "xdg-open").write_text(
        "#!/bin/sh\nprintf '%%s\\n' \"$*\" >>'%s'\n" % opened)
    (fake / "xdg-open").chmod(0o755)
    url = "http://127.0.0.1:8081/inbox?k=s3cret"
    c, took = notify(bus, extra_env={"WUZHA_INBOX_URL": url},
                     path=str(fake))
    assert c["actions"] == ["inbox", "打开收件箱"]
    # Back once shown, not after the click (the server clicks 0.3 s on).
    assert took < 5.0, took
    harness.wait_for(lambda: opened.exists() and opened.read_text(), 10,
                     "xdg-open to be run by the click")
    assert opened.read_text() == url + "\n"


def test_notify_fails_without_a_notification_server(tmp_path):
    gone = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=%s" % (tmp_path / "no")}
    for extra in ({}, {"WUZHA_INBOX_URL": "http://127.0.0.1:1/"}):
        r, _ = run_hook([NOTIFY], alert_env(), dict(gone, **extra))
        assert r.returncode != 0, r
        assert r.stderr, r


def wav_seconds(path):
    with open(path, "rb") as f:
        head = f.read(12)
    assert head[:4] == b"RIFF" and head[8:12] == b"WAVE", head
    with wave.open(path) as w:
        return w.getnframes() / w.getframerate()


def test_speak_writes_a_wav_that_grows_with_repeats(tmp_path):
    env = alert_env(HEADLINE="冒充公检法诈骗预警", INSTRUCTION="不要转账，先核实")
    one, two = str(tmp_path / "one.wav"), str(tmp_path / "two.wav")
    r, _ = run_hook([SPEAK, "-r", "1", "-w", one], env)
    assert r.returncode == 0, r
    r, _ = run_hook([SPEAK, "-w", two], env,
                    {"WUZHA_SPEAK_REPEAT": "2"})
    assert r.returncode == 0, r
    d1, d2 = wav_seconds(one), wav_seconds(two)
    assert d1 > 1.0, d1
    assert d2 > d1 * 1.5, (d1, d2)
    # Renamed into place: nothing left beside it.
    assert sorted(os.listdir(tmp_path)) == ["one.wav", "two.wav"]


def test_speak_drill_says_more_and_option_like_text_is_said(tmp_path):
    plain, drill = str(tmp_path / "p.wav"), str(tmp_path / "d.wav")
    r, _ = run_hook([SPEAK, "-r", "1", "-w", plain], alert_env())
    assert r.returncode == 0, r
    r, _ = run_hook([SPEAK, "-r", "1", "-w", drill], alert_env(DRILL="1"))
    assert r.returncode == 0, r
    assert wav_seconds(drill) > wav_seconds(plain)
    odd = str(tmp_path / "odd.wav")
    canary = str(tmp_path / "pwned")
    r, _ = run_hook([SPEAK, "-r", "1", "-w", odd],
                    alert_env(HEADLINE="-w /dev/null --voices $(touch %s)"
                              % canary))
    assert r.returncode == 0, r
    assert wav_seconds(odd) > 1.0
    assert not os.path.exists(canary)


def test_speak_fails_when_it_cannot_write_or_is_misused(tmp_path):
    r, _ = run_hook([SPEAK, "-w", str(tmp_path / "no" / "x.wav")],
                    alert_env())
    assert r.returncode != 0, r
    assert b"Can't write to" in r.stderr, r
    assert b"wuzha-speak: espeak-ng failed" in r.stderr, r
    for argv in ([SPEAK, "-r", "0"], [SPEAK, "-r", "x"], [SPEAK, "extra"]):
        r, _ = run_hook(argv, alert_env())
        assert r.returncode == 2, r
