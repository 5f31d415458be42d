# SPDX-License-Identifier: ISC
"""
17-systemd: what wuzhad tells systemd, read from a NOTIFY_SOCKET the test
listens on, as systemd would set it for a Type=notify unit with
WatchdogSec: WATCHDOG=1 keeps coming from the event loop; READY=1 comes
only once Redis is reachable and wuzhad listens, with a STATUS= line;
SIGHUP says RELOADING=1 then READY=1, also when the new configuration is
refused; SIGTERM says STOPPING=1 and wuzhad exits 0.  And the shipped
unit's sandboxing: systemd-analyze security exposure at most 2.0.
(systemd-analyze verify of the installed units is in 19-install.)
"""

import os
import re
import signal
import subprocess
import time

import harness
import wuzha_proto as wp

WATCHDOG_USEC = 1000000      # WatchdogSec=1s: WATCHDOG=1 every 0.5 s


# A redis-server of its own (see the env fixture in conftest.py).
PRIVATE_REDIS = True


def _environ(notify):
    return {"NOTIFY_SOCKET": notify.path,
            "WATCHDOG_USEC": str(WATCHDOG_USEC)}


def test_ready_only_once_redis_is_reachable_and_watchdog_keeps_coming(
        env, notify):
    # Redis with its append-only file: the tree survives its stop.
    env.redis_persist = True
    env.setup(daemon=False)
    env.redis_proc.stop()
    env.start_daemon(wait=False, environ=_environ(notify))
    env.daemon.wait_log(r"redis: (connect failed|cannot connect)", timeout=15)

    # Redis is down: the loop runs (watchdog) but wuzhad is not ready.
    notify.poll(2.0)
    assert notify.count("READY=1") == 0, notify.got
    assert notify.count("WATCHDOG=1") >= 3, notify.got

    up_at = time.monotonic()
    env.start_redis()
    ready_at, _ = notify.wait("READY=1", timeout=20)
    assert ready_at >= up_at
    m = env.daemon.wait_log(r"listening on 127\.0\.0\.1:(\d+)", timeout=5)
    env.port = int(m.group(1))
    _, status = notify.wait("STATUS=", timeout=5, after=ready_at)
    assert "redis up" in status, status
    assert "agents online" in status, status

    # The watchdog goes on at half the interval, and STATUS follows what
    # is connected.
    fs, _ = env.session("adv-a11")
    try:
        since = time.monotonic()
        notify.poll(2.0)
        assert notify.count("WATCHDOG=1", since) >= 3, notify.got[-10:]
        lines = [line for t, line in notify.got
                 if t >= since and line.startswith("STATUS=")]
        assert any(line.startswith("STATUS=1 agent online, 1 connection, ")
                   for line in lines), lines
    finally:
        fs.close()


def test_reload_and_stop_are_announced(env, notify):
    env.setup(environ=_environ(notify))
    notify.wait("READY=1", timeout=10)

    fs, _ = env.session("adv-a11")
    try:
        # A good reload: RELOADING=1, then READY=1; the agent stays.
        before = time.monotonic()
        env.daemon.proc.send_signal(signal.SIGHUP)
        t_reload, _ = notify.wait("RELOADING=1", timeout=10, after=before)
        notify.wait("READY=1", timeout=10, after=t_reload)
        env.daemon.wait_log(r"reload: configuration, certificates applied",
                            timeout=10)

        # A broken one is refused: ready again on the old configuration.
        conf = os.path.join(env.dir, "wuzhad.yaml")
        with open(conf, "a", encoding="utf-8") as f:
            f.write("no_such_key: 1\n")
        before = time.monotonic()
        env.daemon.proc.send_signal(signal.SIGHUP)
        t_reload, _ = notify.wait("RELOADING=1", timeout=10, after=before)
        notify.wait("READY=1", timeout=10, after=t_reload)
        env.daemon.wait_log(r"reload refused, keeping the running "
                            r"configuration", timeout=10)

        fs.send_raw(wp.ping(11))
        t, msg = fs.recv()
        assert t == wp.PONG and msg["nonce"] == 11
    finally:
        fs.close()

    before = time.monotonic()
    assert env.stop_daemon() == 0
    notify.poll(0.5)
    assert notify.count("STOPPING=1", before) == 1, notify.got[-10:]


RECEIVERS = ["desk-a", "desk-b"] + \
    ["liaison-%s%d" % (s, d) for s in "ab" for d in (1, 2)] + \
    ["adv-%s%d%d" % (s, d, c) for s in "ab" for d in (1, 2) for c in (1, 2)]


def test_sigterm_says_goodbye_and_loses_no_confirmed_ack(env):
    """SIGTERM while acks are arriving: every agent gets BYE, wuzhad exits
    0, and every ack it confirmed with ACK_OK is in Redis (one it had not
    confirmed the agent sends again; it was never accepted)."""
    env.setup()
    sessions = {cn: env.session(cn)[0] for cn in RECEIVERS}
    try:
        aid, seq, targeted = env.publish("officer-li", "jn-police")
        assert targeted == len(RECEIVERS)
        for fs in sessions.values():
            assert fs.expect(wp.ALERT)["seq"] == seq
        for fs in sessions.values():
            fs.send_raw(wp.ack(aid, wp.ACK_DELIVERED))
        env.daemon.proc.send_signal(signal.SIGTERM)
        confirmed, byes = set(), 0
        for cn, fs in sessions.items():
            closed, frames = fs.wait_closed(15)
            assert closed, cn
            types = [t for t, _ in frames]
            if wp.ACK_OK in types:
                confirmed.add(cn)
            byes += types.count(wp.BYE)
        assert env.stop_daemon() == 0
        assert byes == len(RECEIVERS)
        stored = env.acks(aid)
        assert confirmed <= set(stored), confirmed - set(stored)
        assert env.stored_alert(aid), "the published alert is not in Redis"
        print("SIGTERM: %d of %d acks confirmed, %d stored" % (
            len(confirmed), len(RECEIVERS), len(stored)))
    finally:
        for fs in sessions.values():
            fs.close()


def test_unit_exposure_is_at_most_two():
    """systemd-analyze security rates the shipped wuzhad.service (offline,
    from the file meson makes of systemd/wuzhad.service.in, as installed)
    at an exposure of 2.0 or less."""
    unit = os.path.join(harness.BUILD, "systemd", "wuzhad.service")
    assert os.path.isfile(unit), unit
    r = subprocess.run(["systemd-analyze", "security", "--offline=true",
                        "--no-pager", unit], capture_output=True, text=True,
                       timeout=60)
    m = re.search(r"Overall exposure level for wuzhad\.service: "
                  r"([0-9]+\.[0-9]+)", r.stdout)
    assert m, r.stdout[-2000:] + r.stderr[-2000:]
    print("exposure", m.group(1))
    assert float(m.group(1)) <= 2.0, r.stdout


def test_instance_unit_is_as_hardened_as_the_single_one(tmp_path):
    """wuzhad@.service, as wuzhad@1 (one of several daemons sharing a
    port), has every sandboxing line of wuzhad.service, reads
    wuzhad-1.yaml under the name 1, and rates the same exposure (at most
    2.0)."""
    src = os.path.join(harness.BUILD, "systemd", "wuzhad@.service")
    single = os.path.join(harness.BUILD, "systemd", "wuzhad.service")
    assert os.path.isfile(src), src
    with open(src, encoding="utf-8") as f:
        text = f.read()
    with open(single, encoding="utf-8") as f:
        single_text = f.read()

    def settings(t):
        """The [Service] lines that are no command or environment."""
        body = t.split("\n[Service]\n", 1)[1].split("\n[", 1)[0]
        return {line for line in body.splitlines()
                if line and not line.startswith(("#", "Exec", "Environment",
                                                 "RuntimeDirectoryPreserve"))}
    assert settings(single_text) == settings(text), \
        settings(single_text) ^ settings(text)
    assert re.search(r"^Environment=WUZHAD_CONF=\S+/wuzha/wuzhad-%i\.yaml$",
                     text, re.M), text
    assert re.search(r"^ExecStart=\S+/wuzhad -N %i -c \$\{WUZHAD_CONF\} "
                     r"\$WUZHAD_OPTS$", text, re.M), text
    unit = tmp_path / "wuzhad@1.service"
    unit.write_text(text, encoding="utf-8")
    r = subprocess.run(["systemd-analyze", "security", "--offline=true",
                        "--no-pager", str(unit)], capture_output=True,
                       text=True, timeout=60)
    m = re.search(r"Overall exposure level for wuzhad@1\.service: "
                  r"([0-9]+\.[0-9]+)", r.stdout)
    assert m, r.stdout[-2000:] + r.stderr[-2000:]
    print("instance exposure", m.group(1))
    assert float(m.group(1)) <= 2.0, r.stdout


def test_agent_unit_is_sandboxed(tmp_path):
    """The agent's unit, an instance of it as systemctl would load it, is
    sandboxed too, as far as a site's hook allows: exposure at most 3.0
    (unsandboxed it was 9.2)."""
    src = os.path.join(harness.BUILD, "systemd", "wuzha-agent@.service")
    assert os.path.isfile(src), src
    unit = tmp_path / "wuzha-agent@demo.service"
    with open(src, encoding="utf-8") as f:
        unit.write_text(f.read(), encoding="utf-8")
    r = subprocess.run(["systemd-analyze", "security", "--offline=true",
                        "--no-pager", str(unit)], capture_output=True,
                       text=True, timeout=60)
    m = re.search(r"Overall exposure level for wuzha-agent@demo\.service: "
                  r"([0-9]+\.[0-9]+)", r.stdout)
    assert m, r.stdout[-2000:] + r.stderr[-2000:]
    print("agent exposure", m.group(1))
    assert float(m.group(1)) <= 3.0, r.stdout


def test_check_config_gives_a_verdict(env):
    """wuzhad -t / --check-config (ExecStartPre): exit 0 and 'OK' for a
    good configuration, exit 1 with file:line: reason for a bad one, and
    nothing started either way."""
    env.setup()
    good = os.path.join(env.dir, "wuzhad.yaml")
    for flag in ("-t", "--check-config", "-n"):
        r = subprocess.run([harness.binary("wuzhad"), flag, "-c", good],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "%s: configuration OK\n" % good

    bad = os.path.join(env.dir, "bad.yaml")
    with open(good, encoding="utf-8") as f:
        text = f.read()
    with open(bad, "w", encoding="utf-8") as f:
        f.write(text + "limits:\n  max_frame: lots\n")
    r = subprocess.run([harness.binary("wuzhad"), "--check-config", "-c", bad],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.endswith("%s: configuration refused\n" % bad), r.stderr
    assert re.search(r"bad\.yaml:\d+: ", r.stderr), r.stderr
