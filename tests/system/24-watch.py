# SPDX-License-Identifier: ISC
"""
24-watch: `wuzhactl watch ID` is pushed a fresh acknowledgement tree by
wuzhad each time acks are stored (no polling), shows it within 100 ms of
the ack's ACK_OK, and exits by itself (status 0) once everyone targeted
has read.  Piped, it prints plain tables (or one JSON object a line with
--json); a watch ends with an error when its alert is cancelled; a
connection may hold at most 16 watches.
"""

import json
import os
import pty
import select
import subprocess
import threading
import time
import unicodedata

import pytest

import harness
import wuzha_proto as wp

TARGET = "school-a-d1"
MEMBERS = ("liaison-a1", "adv-a11", "adv-a12")   # its receivers
UPDATE_BOUND_MS = 100                            # the Done-when


_started = []


@pytest.fixture(autouse=True)
def _stop_watches():
    """Whatever happens in a test, no watch outlives it."""
    yield
    while _started:
        w = _started.pop()
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait(5)


class Watch:
    """wuzhactl watch as a child; each output line timestamped."""

    def __init__(self, wz, cn, *args):
        conf = wz.client_conf(cn)
        self.proc = subprocess.Popen(
            [harness.binary("wuzhactl"), "-c", conf, "watch", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL)
        _started.append(self)
        self.lines = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            with self.lock:
                self.lines.append((time.monotonic(),
                                   raw.decode("utf-8", "replace")))

    def snapshot(self):
        with self.lock:
            return list(self.lines)

    def wait_line(self, pred, timeout, what):
        def probe():
            for t, line in self.snapshot():
                if pred(line):
                    return t, line
            return None
        return harness.wait_for(probe, timeout, what, interval=0.005)

    def finish(self, timeout=10):
        try:
            rc = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)
        self.reader.join(5)
        return rc, self.proc.stderr.read().decode("utf-8", "replace")


def _agents(wz):
    """Python agent sessions for the target's receivers."""
    out = {}
    for cn in MEMBERS:
        fs, _ = wz.session(cn)
        out[cn] = fs
    return out


def _ack(fs, aid, state):
    """ACK and wait for its ACK_OK; returns the monotonic time of ACK_OK."""
    fs.send_raw(wp.ack(aid, state))
    while True:
        t, m = fs.recv(10)
        if t == wp.ACK_OK and m["id"] == aid:
            return time.monotonic()


def _recv_alert(fs, aid):
    while True:
        t, m = fs.recv(10)
        if t == wp.ALERT:
            return m


def test_watch_updates_within_100ms_and_exits_at_all_read(wz):
    agents = _agents(wz)
    try:
        aid, _, targeted = wz.publish("desk-a", TARGET, headline="防范冒充客服退款诈骗")
        assert targeted == len(MEMBERS)
        for cn, fs in agents.items():
            _recv_alert(fs, aid)
            _ack(fs, aid, wp.ACK_DELIVERED)
        w = Watch(wz, "desk-a", aid, "--json")
        t0, first = w.wait_line(lambda l: l.startswith("{"), 10,
                                "the first STATUS")
        st = json.loads(first)
        root = st["nodes"][0]
        assert root["node"] == TARGET and root["delivered"] == 3
        assert root["read"] == 0 and st["status"] == "actual"
        assert st["server_time"] > 0
        delays = []
        for k, cn in enumerate(MEMBERS, 1):
            ok_at = _ack(agents[cn], aid, wp.ACK_READ)
            t, line = w.wait_line(
                lambda l, k=k: l.startswith("{") and
                json.loads(l)["nodes"][0]["read"] == k, 5,
                "watch to show %d read" % k)
            delays.append((t - ok_at) * 1000)
            time.sleep(0.1)      # a fresh interval for the next one
        print("watch update after ACK_OK, ms:",
              ["%.1f" % d for d in delays])
        assert max(delays) < UPDATE_BOUND_MS, delays
        rc, err = w.finish()
        assert rc == 0, err
        last = json.loads(w.snapshot()[-1][1])
        assert last["nodes"][0]["read"] == 3
        # Pushed, not polled: each line follows an ack (no repeats of the
        # same counts beyond the coalescing of one batch).
        reads = [json.loads(l)["nodes"][0]["read"] for _, l in w.snapshot()]
        assert reads == sorted(reads) and reads[0] == 0 and reads[-1] == 3
        assert len(reads) <= 1 + len(MEMBERS), reads
    finally:
        for fs in agents.values():
            fs.close()


def test_watch_piped_prints_tables_and_ends_when_cancelled(wz):
    for cn in MEMBERS:
        wz.start_agent(cn)
    aid, _, _ = wz.publish("desk-a", TARGET, headline="冒充公检法诈骗预警")
    harness.wait_for(lambda: len(wz.acks(aid)) == 3, 15, "3 delivered")
    w = Watch(wz, "desk-a", aid)
    w.wait_line(lambda l: "0 of 3 have read" in l, 10, "the first table")
    r = wz.ctl("adv-a11", "ack", aid, "read")
    assert r.rc == 0, r
    w.wait_line(lambda l: "1 of 3 have read" in l, 5, "the second table")
    text = "".join(l for _, l in w.snapshot())
    assert "NODE" in text and "TARGETED" in text and TARGET in text
    assert "\x1b[" not in text, "colours in a pipe"
    r = wz.ctl("desk-a", "publish", "--target", TARGET, "--headline", "取消",
               "--type", "cancel", "--references", aid)
    assert r.rc == 0, r
    rc, err = w.finish()
    assert rc == 1, err
    # The last tree pushed says who cancelled it; the watch stops there.
    assert "no longer live" in err and "%s cancelled by " % aid in err, err
    # Watching it now: one tree, then the same error, not a wait forever.
    r = wz.ctl("desk-a", "watch", aid, "--json", timeout=15)
    assert r.rc == 1 and "no longer live" in r.err, r
    assert json.loads(r.out.splitlines()[0])["nodes"][0]["read"] == 1, r


def _cols(s):
    """Display columns of s: East Asian wide and fullwidth take two."""
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in s)


def test_status_columns_line_up_with_chinese_names(wz):
    aid, _, _ = wz.publish("officer-li", "jn-police", headline="列对齐")
    r = wz.ctl("officer-li", "status", aid)
    assert r.rc == 0, r
    rows = r.out.splitlines()[1:]
    assert any(_cols(l) != len(l) for l in rows), "no Chinese names shown"
    # Where TARGETED ends in the header, every row's count ends too.
    head = rows[0]
    end = _cols(head[:head.index("TARGETED") + len("TARGETED")])
    for row in rows[1:]:
        cut = 0
        while _cols(row[:cut]) < end:
            cut += 1
        assert _cols(row[:cut]) == end, row
        assert row[:cut].rstrip()[-1].isdigit() and row[cut] == " ", row


def test_watch_on_a_terminal_redraws_in_colour(wz):
    for cn in MEMBERS:
        wz.start_agent(cn)
    aid, _, _ = wz.publish("desk-a", TARGET, headline="终端显示")
    harness.wait_for(lambda: len(wz.acks(aid)) == 3, 15, "3 delivered")
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [harness.binary("wuzhactl"), "-c", wz.client_conf("desk-a"),
         "watch", aid], stdout=slave, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    out = b""
    try:
        def grab(want):
            nonlocal out
            deadline = time.monotonic() + 10
            while want not in out and time.monotonic() < deadline:
                r, _, _ = select.select([master], [], [], 0.2)
                if r:
                    try:
                        out += os.read(master, 65536)
                    except OSError:
                        break
            return want in out
        assert grab("0 of 3 have read".encode()), out[-500:]
        for cn in MEMBERS:
            assert wz.ctl(cn, "ack", aid, "read").rc == 0
        assert grab("all of them".encode()), out[-500:]
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(master)
    text = out.decode("utf-8", "replace")
    assert text.count("\x1b[H\x1b[2J") >= 2, "no redraw"
    assert "\x1b[31m" in text and "\x1b[32m" in text, "no colours"
    assert "\u2588" * 20 in text and "\u2591" in text, "no progress bar"


def test_watch_refused_without_observe_and_limited_per_connection(wz):
    aid, _, _ = wz.publish("desk-a", TARGET)
    # Without observe, only an alert sent to it (its own share).
    r = wz.ctl("adv-b11", "watch", aid, timeout=15)
    assert r.rc == 1 and "forbidden (201)" in r.err, r
    fs, _ = wz.session("desk-a", role=wp.ROLE_CONSOLE)
    try:
        req = wp.frame(wp.STATUS_REQ, wp.fields([(1, aid.encode()),
                                                 (3, bytes([2]))]))
        for _ in range(16):
            fs.send_raw(req)
            t, p = fs.recv_frame(10)
            assert t == wp.STATUS, t
        fs.send_raw(req)
        t, p = fs.recv_frame(10)
        assert t == wp.ERROR
        e = wp.decode(wp.ERROR, p)
        assert e["code"] == 202 and "16 watches" in e["text"], e
    finally:
        fs.close()


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
