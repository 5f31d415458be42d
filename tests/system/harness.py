# SPDX-License-Identifier: ISC
"""
The system-test harness: a private redis-server on a unix socket, a test CA
made with scripts/wuzha-ca, a tree imported with wuzhactl, the real wuzhad
over real TLS on loopback, and real wuzha-agent processes whose hook writes
every alert it is given to a file.  Every process started here is stopped
by its own pid (SIGTERM, then SIGKILL after a bounded wait) whatever
happens; every wait is bounded.

Binaries come from $WUZHA_BUILD (the meson build dir) and scripts from
$WUZHA_SRC (the source dir); meson sets both.  $WUZHA_TEST_REDIS, if set,
names the unix socket of a running redis-server to share: each test then
uses its own key prefix.  $WUZHA_TEST_KEEP=1 keeps each test's directory.
"""

import atexit
import itertools
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import wuzha_proto as wp

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("WUZHA_SRC") or os.path.normpath(
    os.path.join(HERE, "..", ".."))


def _default_build():
    for name in ("build-sys", "build"):
        p = os.path.join(SRC, name)
        if os.path.isdir(p):
            return p
    return os.path.join(SRC, "build")


BUILD = os.environ.get("WUZHA_BUILD") or _default_build()
PYTHON = "/usr/bin/python3"

START_TIMEOUT = 20.0     # a daemon or redis to come up
STOP_TIMEOUT = 10.0      # SIGTERM to exit before SIGKILL
CMD_TIMEOUT = 30.0       # one wuzhactl / wuzha-ca run


def binary(name):
    """Path of a built program; a test whose program is missing fails."""
    paths = {
        "wuzhad": os.path.join(BUILD, "daemon", "wuzhad"),
        "wuzha-agent": os.path.join(BUILD, "client", "wuzha-agent"),
        "wuzhactl": os.path.join(BUILD, "client", "wuzhactl"),
        "swarm": os.path.join(BUILD, "tests", "system", "swarm"),
        "wuzha-ca": os.path.join(SRC, "scripts", "wuzha-ca"),
    }
    p = paths[name]
    if not os.access(p, os.X_OK):
        import pytest
        pytest.fail("%s not built (%s)" % (name, p))
    return p


def wait_for(pred, timeout, what, interval=0.05):
    """Poll pred() until it returns something true; bounded."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


_fixed_given = set()


def fixed_port():
    """
    A free loopback port below the ephemeral range, for a daemon that must
    come back on the same port: while it is down, a client reconnecting to
    an ephemeral-range port can be given that very port as its own source
    and connect to itself (TCP self-connect).  Never the same one twice in
    a process (several daemons each want their own).
    """
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    base = 10000 + (os.getpid() * 7919) % max(1, low - 11000)
    for i in range(1000):
        port = 10000 + (base - 10000 + i * 13) % max(1, low - 11000)
        if port in _fixed_given:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            _fixed_given.add(port)
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise AssertionError("no free port below %d" % low)


class Notify:
    """
    A datagram socket standing for systemd's notification socket: a daemon
    started with NOTIFY_SOCKET=path sends its READY=1, STATUS=, WATCHDOG=1
    ... here.  Every line received is kept in got as (monotonic time, line).
    """

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.got = []

    def poll(self, seconds=0.0):
        """Collect what arrives during seconds (0: what is there now)."""
        deadline = time.monotonic() + seconds
        while True:
            self.sock.settimeout(max(0.0, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except (BlockingIOError, socket.timeout):
                return
            now = time.monotonic()
            for line in data.decode("utf-8", "replace").splitlines():
                self.got.append((now, line))

    def lines(self, prefix, since=0.0):
        """The lines starting with prefix received so far, since `since`."""
        self.poll()
        return [line for t, line in self.got
                if t >= since and line.startswith(prefix)]

    def count(self, prefix, since=0.0):
        return sum(1 for t, line in self.got
                   if t >= since and line.startswith(prefix))

    def wait(self, prefix, timeout, after=0.0):
        """The first line starting with prefix received after `after`."""
        deadline = time.monotonic() + timeout
        while True:
            for t, line in self.got:
                if t >= after and line.startswith(prefix):
                    return t, line
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s within %.1f s; got %r"
                                     % (prefix, timeout, self.got[-10:]))
            self.poll(min(left, 0.2))

    def close(self):
        self.sock.close()


def _raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- processes ------------------------------------------------------------

class Proc:
    """A child with stdout and stderr in files, stopped by pid."""

    def __init__(self, name, argv, logdir, env=None, stdin=None, cwd=None):
        self.name = name
        self.argv = argv
        self.out_path = os.path.join(logdir, name + ".out")
        self.log_path = os.path.join(logdir, name + ".log")
        self._out = open(self.out_path, "ab")
        self._err = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            argv, stdout=self._out, stderr=self._err,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            env=env, cwd=cwd, preexec_fn=_raise_nofile)
        self.pid = self.proc.pid
        self.rc = None

    def alive(self):
        return self.proc.poll() is None

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def out(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=10.0, start=0):
        """The first match of pattern in the log (from offset start)."""
        rx = re.compile(pattern)

        def probe():
            m = rx.search(self.log(), start)
            if m:
                return m
            if not self.alive():
                # One last look: the line may have come with the exit.
                m = rx.search(self.log(), start)
                if m:
                    return m
                raise AssertionError(
                    "%s exited (rc %s) before logging %r; log:\n%s"
                    % (self.name, self.proc.poll(), pattern, self.tail()))
            return None
        return wait_for(probe, timeout, "%s to log %r" % (self.name, pattern))

    def wait_out(self, pattern, timeout=10.0):
        """The first line of stdout matching pattern (multiline regex)."""
        rx = re.compile(pattern, re.M)

        def probe():
            m = rx.search(self.out())
            if m:
                return m
            if not self.alive():
                m = rx.search(self.out())
                if m:
                    return m
                raise AssertionError("%s exited (rc %s) before printing %r;"
                                     " stdout:\n%s\nstderr:\n%s" % (
                                         self.name, self.proc.poll(), pattern,
                                         self.out()[-2000:], self.tail()))
            return None
        return wait_for(probe, timeout,
                        "%s to print %r" % (self.name, pattern), interval=0.1)

    def tail(self, n=40):
        return "\n".join(self.log().splitlines()[-n:])

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signal, wait bounded, then SIGKILL; returns the exit status."""
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(STOP_TIMEOUT)
        self.rc = self.proc.returncode
        for f in (self._out, self._err):
            try:
                f.close()
            except OSError:
                pass
        return self.rc


# --- a tiny Redis client --------------------------------------------------

class RespError(Exception):
    pass


class Redis:
    """RESP2 over a unix socket; enough for GET, HGETALL, INFO and friends."""

    def __init__(self, path, prefix="wuzha:", timeout=10.0):
        self.path = path
        self.prefix = prefix
        self.timeout = timeout
        self.sock = None
        self.buf = b""

    def _connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s
        self.buf = b""

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise ConnectionError("redis closed the connection")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            d = self.sock.recv(65536)
            if not d:
                raise ConnectionError("redis closed the connection")
            self.buf += d
        v, self.buf = self.buf[:n], self.buf[n + 2:]
        return v

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise ConnectionError("bad RESP reply %r" % line)

    def cmd(self, *args):
        """Run one command (no prefixing); bytes results stay bytes."""
        if self.sock is None:
            self._connect()
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        try:
            self.sock.sendall(out)
            r = self._reply()
        except Exception:
            self.close()
            raise
        if isinstance(r, RespError):
            raise r
        return r

    def k(self, name):
        return self.prefix + name

    # Prefixed conveniences, results decoded as UTF-8.
    def get(self, name):
        v = self.cmd("GET", self.k(name))
        return None if v is None else v.decode()

    def exists(self, name):
        return self.cmd("EXISTS", self.k(name)) == 1

    def hgetall(self, name):
        """Fields and values as text (binary values lose their odd bytes)."""
        r = self.cmd("HGETALL", self.k(name))
        return {r[i].decode(): r[i + 1].decode("utf-8", "replace")
                for i in range(0, len(r), 2)}

    def hget_raw(self, name, field):
        return self.cmd("HGET", self.k(name), field)

    def hlen(self, name):
        return self.cmd("HLEN", self.k(name))

    def zcard(self, name):
        return self.cmd("ZCARD", self.k(name))

    def zrange(self, name):
        return [x.decode() for x in self.cmd("ZRANGE", self.k(name), 0, -1)]

    def xlen(self, name):
        return self.cmd("XLEN", self.k(name))

    def keys(self, pattern="*"):
        """Keys under our prefix (SCAN, bounded), prefix stripped."""
        out = []
        cursor = b"0"
        for _ in range(100000):
            cursor, batch = self.cmd("SCAN", cursor, "MATCH",
                                     self.prefix + pattern, "COUNT", 1000)
            out += [b.decode()[len(self.prefix):] for b in batch]
            if cursor == b"0":
                break
        return sorted(out)

    def dump(self):
        """Everything under our prefix: {key: (type, contents)}, to show
        that something left the store exactly as it was."""
        out = {}
        for name in self.keys():
            k = self.k(name)
            t = self.cmd("TYPE", k)
            if t == "string":
                v = self.cmd("GET", k)
            elif t == "hash":
                v = sorted(zip(*[iter(self.cmd("HGETALL", k))] * 2))
            elif t == "zset":
                v = self.cmd("ZRANGE", k, 0, -1, "WITHSCORES")
            elif t == "set":
                v = sorted(self.cmd("SMEMBERS", k))
            elif t == "list":
                v = self.cmd("LRANGE", k, 0, -1)
            elif t == "stream":
                v = repr(self.cmd("XRANGE", k, "-", "+"))
            else:
                v = None
            out[name] = (t, v)
        return out

    def info(self, section):
        raw = self.cmd("INFO", section).decode()
        return [ln for ln in raw.splitlines() if ln and not ln.startswith("#")]

    def commandstats(self):
        """{command: calls} from INFO commandstats."""
        out = {}
        for ln in self.info("commandstats"):
            m = re.match(r"cmdstat_([^:]+):calls=(\d+)", ln)
            if m:
                out[m.group(1)] = int(m.group(2))
        return out

    def resetstat(self):
        self.cmd("CONFIG", "RESETSTAT")


# --- trees ----------------------------------------------------------------

class Tree:
    """
    A tree to import: nodes (id, name, tier, parent) and principals (cn,
    node, rights).  Written as the YAML conf/ reads (see conf/tree.yaml).
    """

    def __init__(self):
        self.nodes = []          # dicts: id, name, tier, parent
        self.principals = []     # dicts: cn, node, rights

    def node(self, nid, tier, parent=None, name=None):
        self.nodes.append({"id": nid, "name": name or nid, "tier": tier,
                           "parent": parent})
        return nid

    def principal(self, cn, node, *rights):
        self.principals.append({"cn": cn, "node": node,
                                "rights": list(rights)})
        return cn

    def parent(self, nid):
        for n in self.nodes:
            if n["id"] == nid:
                return n["parent"]
        raise KeyError(nid)

    def subtree(self, nid):
        out = [nid]
        for n in self.nodes:
            if n["parent"] == nid:
                out += self.subtree(n["id"])
        return out

    def receivers(self, target):
        """CNs with receive at target or below it: who an alert reaches."""
        under = set(self.subtree(target))
        return sorted(p["cn"] for p in self.principals
                      if p["node"] in under and "receive" in p["rights"])

    def yaml(self):
        out = ["# written by tests/system/harness.py", "nodes:"]
        for n in self.nodes:
            out.append("  - id: %s" % n["id"])
            out.append("    name: %s" % json.dumps(n["name"],
                                                   ensure_ascii=False))
            out.append("    tier: %s" % n["tier"])
            if n["parent"]:
                out.append("    parent: %s" % n["parent"])
        out.append("principals:")
        for p in self.principals:
            out.append("  - cn: %s" % p["cn"])
            out.append("    node: %s" % p["node"])
            out.append("    rights: [%s]" % ", ".join(p["rights"]))
        return "\n".join(out) + "\n"

    def write(self, path):
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.yaml())
        return path


def escalations(fs, timeout):
    """Every ESCALATION that arrives on session fs within timeout seconds."""
    out = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return out
        try:
            t, msg = fs.recv(timeout=left)
        except TimeoutError:
            return out
        if t == wp.ESCALATION:
            out.append(msg)


def big_school_tree(cn_format, agents, departments=4, classes=5,
                    desk=False):
    """
    jn-police (officer-li issues and observes there) over school "big",
    its departments big-dD and classes big-dD-cC, and agents receivers
    cn_format % i spread over the classes in turn; with desk, desk-big
    issues and observes at the school.  (tree, the class ids).
    """
    t = Tree()
    t.node("jn-police", "police")
    t.principal("officer-li", "jn-police", "issue", "observe")
    t.node("big", "school", "jn-police")
    if desk:
        t.principal("desk-big", "big", "issue", "observe")
    ids = []
    for d in range(departments):
        dept = t.node("big-d%d" % d, "department", "big")
        for c in range(classes):
            ids.append(t.node("%s-c%d" % (dept, c), "class", dept))
    for i in range(agents):
        t.principal(cn_format % i, ids[i % len(ids)], "receive")
    return t, ids


def demo_tree():
    """
    The demo's shape (conf/tree.yaml): police jn-police over school-a and
    school-b, two departments each, two classes per department.  Officer
    at the police node, a desk per school, a liaison per department and
    an advisor per class.  Names are the tests' own.
    """
    t = Tree()
    t.node("jn-police", "police", name="济南市公安局反诈中心")
    t.principal("officer-li", "jn-police", "issue", "observe")
    for s in ("a", "b"):
        school = t.node("school-" + s, "school", "jn-police",
                        name="学校" + s.upper())
        t.principal("desk-" + s, school, "receive", "issue", "observe")
        for d in (1, 2):
            dept = t.node("%s-d%d" % (school, d), "department", school)
            t.principal("liaison-%s%d" % (s, d), dept, "receive")
            for c in (1, 2):
                cls = t.node("%s-c%d" % (dept, c), "class", dept)
                t.principal("adv-%s%d%d" % (s, d, c), cls, "receive")
    return t


# --- the environment of one test ------------------------------------------

_prefix_counter = itertools.count(1)

# PKI directories already made in this process, by what they hold.
_pki_cache = {}
_pki_dir = []


def _pki_cache_dir():
    if not _pki_dir:
        d = tempfile.mkdtemp(prefix="wz-pki-")
        _pki_dir.append(d)
        atexit.register(shutil.rmtree, d, True)
    return _pki_dir[0]


HOOK_PY = r'''
import json, os, sys
rec = {k: v for k, v in os.environ.items() if k.startswith("WUZHA_")}
rec["stdin"] = sys.stdin.buffer.read().decode("utf-8", "replace")
with open(sys.argv[1], "a", encoding="utf-8") as f:
    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
'''

# The counted states, by wire value, and their rank (delivered < shown <
# read < relayed): a counter holds the agents at that rank or above.
ACK_STATES = (("delivered", 1, 1), ("read", 2, 3), ("relayed", 3, 4),
              ("shown", 4, 2))
ACK_RANK = {0: 0, 1: 1, 4: 2, 2: 3, 3: 4}

PUBLISHED_RX = re.compile(r"published (\S+) seq (\d+) targeted (\d+)")


class CtlResult:
    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err

    def __repr__(self):
        return "wuzhactl %s -> rc %d\nstdout: %s\nstderr: %s" % (
            " ".join(self.argv), self.rc, self.out, self.err)

    def error(self):
        """(name, code, text) from 'wuzhactl: NAME (CODE): TEXT', or None."""
        m = re.search(r"wuzhactl: ([a-z0-9-]+) \((\d+)\): ?(.*)", self.err)
        return (m.group(1), int(m.group(2)), m.group(3)) if m else None


class Agent:
    """A running wuzha-agent and the file its hook appends to."""

    def __init__(self, env, cn, proc, conf, shown, state):
        self.env, self.cn, self.proc = env, cn, proc
        self.conf, self.shown_path, self.state_file = conf, shown, state

    def shown(self):
        """Every alert the hook was given, oldest first (dicts of env)."""
        try:
            with open(self.shown_path, encoding="utf-8") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        # A line still being written has no newline yet: leave it for later.
        return [json.loads(ln) for ln in data.split("\n")[:-1] if ln]

    def shown_ids(self):
        return [r.get("WUZHA_ID") for r in self.shown()]

    def wait_shown(self, alert_id, timeout=15.0):
        def probe():
            for r in self.shown():
                if r.get("WUZHA_ID") == alert_id:
                    return r
            if not self.proc.alive():
                raise AssertionError("agent %s exited; log:\n%s"
                                     % (self.cn, self.proc.tail()))
            return None
        return wait_for(probe, timeout, "agent %s to show %s"
                        % (self.cn, alert_id))

    def log(self):
        return self.proc.log()

    def inbox_url(self, timeout=10.0):
        """The inbox page's address (with its secret), once written."""
        path = os.path.join(self.env.dir, "agent-%s.url" % self.cn)

        def probe():
            try:
                with open(path, encoding="utf-8") as f:
                    url = f.read().strip()
            except FileNotFoundError:
                url = ""
            if not url and not self.proc.alive():
                raise AssertionError("agent %s exited; log:\n%s"
                                     % (self.cn, self.proc.tail()))
            return url or None
        return wait_for(probe, timeout, "agent %s's inbox URL" % self.cn)

    def stop(self, sig=signal.SIGTERM):
        return self.proc.stop(sig)

    def restart(self):
        self.proc.stop()
        return self.env.start_agent(self.cn, conf=self.conf)


class Swarm:
    """A running swarm --resilient and the lines it is driven with."""

    def __init__(self, env, proc, count):
        self.env, self.proc, self.count = env, proc, count

    def alive(self):
        return self.proc.alive()

    def say(self, line):
        self.proc.proc.stdin.write(line.encode() + b"\n")
        self.proc.proc.stdin.flush()

    def wait_ready(self, timeout=90):
        self.proc.wait_out(r"^ready %d$" % self.count, timeout=timeout)

    def report(self, timeout=10):
        """Ask for a report and return it (a dict)."""
        before = self.proc.out().count("\nreport ")
        if self.proc.out().startswith("report "):
            before += 1
        self.say("report")

        def probe():
            lines = [ln for ln in self.proc.out().split("\n")[:-1]
                     if ln.startswith("report ")]
            if len(lines) > before:
                return json.loads(lines[-1][len("report "):])
            if not self.proc.alive():
                raise AssertionError("swarm exited:\n" + self.proc.tail())
            return None
        return wait_for(probe, timeout, "a swarm report", interval=0.05)

    def wait_report(self, pred, timeout, what, interval=0.5):
        """Reports until pred(report) holds; the last one either way."""
        last = [None]

        def probe():
            last[0] = self.report()
            return pred(last[0])
        try:
            wait_for(probe, timeout, what, interval=interval)
        except AssertionError as ex:
            raise AssertionError("%s; last report: %s" % (ex, last[0]))
        return last[0]

    def expect(self, ids):
        """Tell the swarm the ids every agent must show."""
        path = os.path.join(self.env.dir, "expect-%d.txt" % self.proc.pid)
        with open(path, "w") as f:
            f.write("".join(i + "\n" for i in ids))
        n = self.proc.out().count("expecting ")
        self.say("expect " + path)
        wait_for(lambda: self.proc.out().count("expecting ") > n, 10,
                 "swarm to read the expected ids")
        assert "expecting %d\n" % len(ids) in self.proc.out()

    def confirmed(self):
        """The (cn, alert id) pairs whose ack got ACK_OK so far (a set)."""
        path = os.path.join(self.env.dir, "confirmed-%d.txt" % self.proc.pid)
        n = self.proc.out().count("confirmed ")
        self.say("confirmed " + path)
        wait_for(lambda: self.proc.out().count("confirmed ") > n, 10,
                 "swarm to write its confirmed acks")
        assert "confirmed error" not in self.proc.out()
        with open(path) as f:
            return {tuple(ln.split()) for ln in f if ln.strip()}

    def quit(self, timeout=30):
        """Ask it to end; (exit status, summary dict)."""
        try:
            self.say("quit")
            self.proc.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.proc.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        rc = self.proc.stop()
        lines = [ln for ln in self.proc.out().splitlines()
                 if ln.startswith("{")]
        return rc, (json.loads(lines[-1]) if lines else None)


class Env:
    """Everything one test runs against; see the module comment."""

    def __init__(self, tmp=None, private_redis=False):
        """
        private_redis: start a redis-server of our own even when
        $WUZHA_TEST_REDIS names a shared one (for server-wide views such
        as INFO commandstats).
        """
        # Unix socket paths are short (108 bytes): keep the dir short too.
        self.dir = tmp or tempfile.mkdtemp(prefix="wz-")
        self.pki = os.path.join(self.dir, "pki")
        self.procs = []
        self.redis_proc = None
        self.daemon = None
        self.daemon_rc = None
        self.port = None
        # Several daemons on one Redis: client configs list these ports.
        self.server_ports = None
        self.tree = None
        self.agents = {}
        shared = None if private_redis else os.environ.get("WUZHA_TEST_REDIS")
        self.shared_redis = bool(shared)
        if shared:
            self.redis_sock = shared
            self.prefix = "wzt%d-%d:" % (os.getpid(), next(_prefix_counter))
        else:
            self.redis_sock = os.path.join(self.dir, "redis.sock")
            self.prefix = "wuzha:"
        self.redis = Redis(self.redis_sock, self.prefix)
        self._ids = itertools.count(1)
        with open(os.path.join(self.dir, "hook.py"), "w") as f:
            f.write(HOOK_PY)

    # -- lifecycle --

    def spawn(self, name, argv, **kw):
        p = Proc(name, argv, self.dir, **kw)
        self.procs.append(p)
        return p

    def start_redis(self, persist=None):
        """
        Start the private redis-server (again, after a stop: same socket).
        persist=True: an append-only file fsynced on every write, in a dir
        of its own, so that a restart comes back with the data; the choice
        sticks for later restarts.  Default: no persistence at all.
        """
        if self.shared_redis:
            self.redis.cmd("PING")
            return
        if persist is not None:
            self.redis_persist = persist
        persist = getattr(self, "redis_persist", False)
        if persist:
            data = os.path.join(self.dir, "redis-data")
            os.makedirs(data, exist_ok=True)
            keep = ["--appendonly", "yes", "--appendfsync", "always",
                    "--dir", data]
        else:
            keep = ["--appendonly", "no", "--dir", self.dir]
        self.redis.close()
        self.redis_proc = self.spawn("redis", [
            "redis-server", "--port", "0", "--unixsocket", self.redis_sock,
            "--unixsocketperm", "700", "--save", ""] + keep +
            ["--loglevel", "warning"])

        def up():
            if not self.redis_proc.alive():
                raise AssertionError("redis-server exited:\n"
                                     + self.redis_proc.tail())
            try:
                return self.redis.cmd("PING") == "PONG"
            except (OSError, RespError):
                # Not listening yet, or still loading its data.
                self.redis.close()
                return False
        wait_for(up, START_TIMEOUT, "redis-server")

    def make_pki(self, cns=None):
        """
        CA, the daemon cert, and a cert for each cn (default: the tree's
        principals), made by scripts/wuzha-ca.  A cn of the tree gets its
        path and, if it may issue, its node written in, as `wuzha-ca tree`
        does.  The first test to ask for a given set makes it; later ones
        get a copy (openssl is slow).
        """
        key = ""
        if getattr(self, "tree_path", None):
            with open(self.tree_path, encoding="utf-8") as f:
                key = f.read()
        if cns is not None:
            key += "\n--\n" + "\n".join(cns)
        cached = _pki_cache.get(key)
        if cached is None:
            made = os.path.join(_pki_cache_dir(), "pki%d" % len(_pki_cache))
            ca = binary("wuzha-ca")
            self.run([ca, "init", made])
            self.run([ca, "server", made, "wuzhad"])
            if cns is None:
                self.run([ca, "tree", made, self.tree_path,
                          binary("wuzhactl")])
            else:
                for cn in cns:
                    self.run([ca, "client", made, cn] + self._scope_args(cn))
            _pki_cache[key] = cached = made
        shutil.copytree(cached, self.pki, symlinks=True)

    def tree_principals(self):
        """cn -> (node, rights, path) of the tree file, from wuzhactl."""
        with open(self.tree_path, encoding="utf-8") as f:
            text = f.read()
        if getattr(self, "_principals", (None,))[0] == text:
            return self._principals[1]
        r = self.run([binary("wuzhactl"), "tree", "principals",
                      self.tree_path])
        out = {}
        for line in r.out.splitlines():
            cn, node, rights, path = line.split()
            out[cn] = (node, rights.split(","), path)
        self._principals = (text, out)
        return out

    def principals_file(self):
        """
        `wuzhactl tree principals` of the tree in a file, for swarm and
        wuzha-bench --principals (each agent's wuzha:path: URI).
        """
        plist = os.path.join(self.dir, "principals.txt")
        with open(plist, "w", encoding="utf-8") as f:
            for cn, (node, rights, path) in self.tree_principals().items():
                f.write("%s %s %s %s\n" % (cn, node, ",".join(rights), path))
        return plist

    def _scope_args(self, cn):
        """wuzha-ca client options giving cn its place in the tree."""
        if not getattr(self, "tree_path", None):
            return []
        p = self.tree_principals().get(cn)
        if p is None:
            return []
        args = ["--path", p[2]]
        if "issue" in p[1]:
            args += ["--issue", p[0]]
        return args

    def client_cert(self, cn, path=None, issue=None):
        """
        A CA-issued certificate for cn (principal or not); its place in
        the tree as the tree file says, unless path or issue is given.
        """
        if not os.path.exists(self.crt(cn)):
            if path is None and issue is None:
                args = self._scope_args(cn)
            else:
                args = (["--path", path] if path else []) + \
                    (["--issue", issue] if issue else [])
            self.run([binary("wuzha-ca"), "client", self.pki, cn] + args)
        return self.crt(cn), self.key(cn)

    def crt(self, cn):
        return os.path.join(self.pki, cn + ".crt")

    def key(self, cn):
        return os.path.join(self.pki, cn + ".key")

    @property
    def ca(self):
        return os.path.join(self.pki, "ca.crt")

    @property
    def ca_key(self):
        return os.path.join(self.pki, "ca.key")

    def set_tree(self, tree):
        self.tree = tree
        self.tree_path = tree.write(os.path.join(self.dir, "tree.yaml"))

    def set_tree_file(self, path):
        """Use a tree file as it is (self.tree stays None)."""
        self.tree = None
        self.tree_path = os.path.join(self.dir, "tree.yaml")
        shutil.copyfile(path, self.tree_path)

    def import_tree(self):
        self.run([binary("wuzhactl"), "tree", "import", self.tree_path,
                  "--redis", self.redis_sock, "--prefix", self.prefix])

    def start_daemon(self, wait=True, **opts):
        """
        Write wuzhad.yaml and start wuzhad.  opts: port (default 0: the
        daemon picks one), limits, timeouts and redis (dicts: settings
        added to those sections), sentinels (a list of "host:port"
        written instead of the socket), log_level, crl (a
        path), ticket_key (True: the PKI's ticket.key), environ (a dict
        of variables added to wuzhad's environment), name (the daemon's
        name; default "wuzhad", then "wuzhad.N" for the N-th started in
        this test), conf (its config file's name; default wuzhad.yaml),
        top (a dict of more top-level settings, such as
        listen_reuse_port), args (more wuzhad options).
        """
        self.daemon_rc = None
        port = opts.get("port", 0)
        conf = os.path.join(self.dir, opts.get("conf", "wuzhad.yaml"))
        n = sum(1 for p in self.procs if p.name.startswith("wuzhad"))
        name = opts.get("name") or ("wuzhad" if n == 0 else "wuzhad.%d" % n)
        lines = [
            'listen: "127.0.0.1:%d"' % port,
            'name: "%s"' % name,
        ] + ["%s: %s" % kv for kv in (opts.get("top") or {}).items()] + [
            "tls:",
            '  ca: "%s"' % self.ca,
            '  cert: "%s"' % self.crt("wuzhad"),
            '  key: "%s"' % self.key("wuzhad"),
        ]
        if opts.get("crl"):
            lines.append('  crl: "%s"' % opts["crl"])
        if opts.get("ticket_key"):
            lines.append('  ticket_key: "%s"' % os.path.join(
                os.path.dirname(self.crt("wuzhad")), "ticket.key"))
        lines.append("redis:")
        if opts.get("sentinels"):
            # Sentinel names the primary: no socket of our own then.
            lines.append("  sentinels: [%s]" % ", ".join(
                '"%s"' % s for s in opts["sentinels"]))
        else:
            lines.append('  socket: "%s"' % self.redis_sock)
        lines.append('  prefix: "%s"' % self.prefix)
        for k, v in (opts.get("redis") or {}).items():
            lines.append('  %s: "%s"' % (k, v))
        # Tests publish far faster, and connect far more from one address,
        # than the production defaults allow; tests of those limits say so.
        limits = {"publish_rate": 1000000, "publish_burst": 100000,
                  "max_connections_per_address": 1000000}
        limits.update(opts.get("limits") or {})
        opts = dict(opts, limits=limits)
        for section in ("limits", "timeouts", "delivery"):
            if opts.get(section):
                lines.append("%s:" % section)
                for k, v in opts[section].items():
                    lines.append('  %s: "%s"' % (k, v) if isinstance(v, str)
                                 else "  %s: %s" % (k, v))
        # Port 0: tests run side by side; wuzhad logs the port it got.
        lines += ["metrics:", '  listen: "%s"'
                  % opts.get("metrics_listen", "127.0.0.1:0")]
        lines.append("log_level: %s" % opts.get("log_level", "debug"))
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        environ = None
        if opts.get("environ"):
            environ = dict(os.environ, **opts["environ"])
        self.daemon = self.spawn(name,
                                 [binary("wuzhad"), "-d", "-c", conf] +
                                 list(opts.get("args") or []),
                                 env=environ)
        if wait:
            m = self.daemon.wait_log(r"listening on 127\.0\.0\.1:(\d+)",
                                     START_TIMEOUT)
            self.port = int(m.group(1))
        return self.daemon

    def kill_daemon(self):
        """SIGKILL wuzhad (a crash): nothing of it runs afterwards."""
        if self.daemon is not None and self.daemon_rc is None:
            self.daemon.stop(signal.SIGKILL)
            self.daemon_rc = -signal.SIGKILL
        return self.daemon_rc

    def stop_daemon(self):
        """SIGTERM wuzhad; its exit status is kept for the teardown check."""
        if self.daemon is not None and self.daemon_rc is None:
            self.daemon_rc = self.daemon.stop()
        return self.daemon_rc

    def setup(self, tree=None, certs=None, daemon=True, **daemon_opts):
        """
        The usual start: redis, tree, PKI, import, daemon.  tree: a Tree,
        or the path of a tree file; default demo_tree().
        """
        if isinstance(tree, str):
            self.set_tree_file(tree)
        else:
            self.set_tree(tree or demo_tree())
        self.start_redis()
        self.make_pki(certs)
        self.import_tree()
        if daemon:
            self.start_daemon(**daemon_opts)
        return self

    def teardown(self):
        """Stop everything by pid: agents, then the daemon, then redis."""
        errors = []
        daemon_log = ""
        for p in reversed(self.procs):
            if p is self.daemon or p is self.redis_proc:
                continue
            p.stop()
        if self.daemon is not None:
            if self.daemon_rc is None:
                early = not self.daemon.alive()
                self.daemon_rc = self.daemon.stop()
                if early:
                    errors.append("wuzhad had exited by itself (status %s)"
                                  % self.daemon_rc)
            daemon_log = self.daemon.tail(60)
            if self.daemon_rc != 0 and not errors:
                errors.append("wuzhad exited %s on SIGTERM" % self.daemon_rc)
        if self.redis_proc is not None:
            self.redis_proc.stop()
        elif self.shared_redis:
            try:
                for k in self.redis.keys():
                    self.redis.cmd("DEL", self.prefix + k)
            except (OSError, RespError) as ex:
                print("cannot clean keys %s*: %s" % (self.prefix, ex))
        self.redis.close()
        if daemon_log:
            print("--- wuzhad log (tail) ---\n" + daemon_log)
        for cn, a in self.agents.items():
            print("--- agent %s log (tail) ---\n%s" % (cn, a.proc.tail(10)))
        if os.environ.get("WUZHA_TEST_KEEP"):
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return errors

    # -- commands --

    def run(self, argv, check=True, timeout=CMD_TIMEOUT, input_=None):
        r = subprocess.run(argv, capture_output=True, timeout=timeout,
                           input=input_, cwd=self.dir)
        res = CtlResult(argv[1:], r.returncode,
                        r.stdout.decode("utf-8", "replace"),
                        r.stderr.decode("utf-8", "replace"))
        if check and r.returncode != 0:
            raise AssertionError("command failed: %s %r"
                                 % (os.path.basename(argv[0]), res))
        return res

    def client_conf(self, cn, name=None, hook=None, state=None,
                    reconnect=("100ms", "1s"), extra=(), port=None):
        """
        agent.yaml / ctl.yaml for cn; returns its path.  The server is
        port if given, else every one of server_ports if set, else port.
        """
        path = os.path.join(self.dir, (name or "ctl-" + cn) + ".yaml")
        if port is not None:
            server = ['server: "127.0.0.1:%d"' % port]
        elif self.server_ports:
            server = ["server:"] + ['  - "127.0.0.1:%d"' % p
                                    for p in self.server_ports]
        else:
            server = ['server: "127.0.0.1:%d"' % self.port]
        lines = server + [
            'server_name: "wuzhad"',
            "tls:",
            '  ca: "%s"' % self.ca,
            '  cert: "%s"' % self.crt(cn),
            '  key: "%s"' % self.key(cn),
        ]
        if state:
            lines.append('state_file: "%s"' % state)
        if hook:
            lines.append("hook: '%s'" % hook)
        if reconnect:
            lines += ["reconnect:", '  min: "%s"' % reconnect[0],
                      '  max: "%s"' % reconnect[1]]
        lines += list(extra)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def ctl(self, cn, *args, check=False, timeout=CMD_TIMEOUT, port=None):
        """wuzhactl as cn; port: through that daemon only."""
        conf = self.client_conf(cn, name=None if port is None else
                                "ctl-%s-%d" % (cn, port), port=port)
        return self.run([binary("wuzhactl"), "-c", conf] + list(args),
                        check=check, timeout=timeout)

    def new_id(self, tag="t"):
        return "%s-%d-%d" % (tag, os.getpid(), next(self._ids))

    def publish(self, cn, target, headline="测试预警", text=None, alert_id=None,
                extra=(), expect_ok=True, port=None):
        """wuzhactl publish; returns (id, seq, targeted) or the CtlResult."""
        alert_id = alert_id or self.new_id("pub")
        args = ["publish", "--target", target, "--headline", headline,
                "--id", alert_id]
        if text is not None:
            args += ["--text", text]
        r = self.ctl(cn, *args, *extra, port=port)
        if not expect_ok:
            return r
        assert r.rc == 0, r
        m = PUBLISHED_RX.search(r.out)
        assert m, r
        assert m.group(1) == alert_id, r
        return m.group(1), int(m.group(2)), int(m.group(3))

    def start_agent(self, cn, conf=None, hook_exit=0, inbox=False,
                    hook=True):
        """A wuzha-agent for cn; its hook appends to DIR/agent-CN.jsonl.
        With inbox, it serves its page on loopback (Agent.inbox_url)."""
        shown = os.path.join(self.dir, "agent-%s.jsonl" % cn)
        state = os.path.join(self.dir, "agent-%s.state" % cn)
        if conf is None:
            cmd = None
            if hook:
                cmd = "%s %s %s %d" % (PYTHON,
                                       os.path.join(self.dir, "hook.py"),
                                       shown, hook_exit)
            extra = []
            if inbox:
                extra = ["inbox:", '  listen: "127.0.0.1:0"',
                         '  url_file: "%s"' % os.path.join(
                             self.dir, "agent-%s.url" % cn)]
            conf = self.client_conf(cn, name="agent-" + cn, hook=cmd,
                                    state=state, extra=extra)
        try:
            os.unlink(os.path.join(self.dir, "agent-%s.url" % cn))
        except FileNotFoundError:
            pass
        n = sum(1 for p in self.procs if p.name.startswith("agent-" + cn))
        proc = self.spawn("agent-%s.%d" % (cn, n),
                          [binary("wuzha-agent"), "-d", "-c", conf])
        a = Agent(self, cn, proc, conf, shown, state)
        self.agents[cn] = a
        return a

    def start_swarm(self, cn_format, count, *extra, name="swarm",
                    timeout=300, inflight=64, ports=None):
        """A swarm --resilient of count agents (see swarm.c), driven by
        lines on its stdin; ports: several daemons, the agents spread
        over them in turn."""
        servers = []
        for p in ports or [self.port]:
            servers += ["--server", "127.0.0.1:%d" % p]
        proc = self.spawn(name, [
            binary("swarm"), "--principals", self.principals_file()] +
            servers + [
            "--server-name", "wuzhad", "--ca-cert", self.ca,
            "--ca-key", self.ca_key, "--cn-format", cn_format,
            "--count", str(count), "--inflight", str(inflight),
            "--timeout", str(timeout), "--resilient"] + list(extra),
            stdin=subprocess.PIPE)
        return Swarm(self, proc, count)

    def session(self, cn, role=wp.ROLE_AGENT, port=None, **kw):
        """A Python protocol session as cn: (FrameSocket, WELCOME)."""
        fs, w = wp.session("127.0.0.1", port or self.port, self.ca,
                           self.crt(cn), self.key(cn), role=role, **kw)
        fs.env_lookup = self.stored_envelope
        return fs, w

    def connect(self, cn=None, cert=None, key=None):
        """A TLS connection, no HELLO sent yet."""
        if cn:
            cert, key = self.crt(cn), self.key(cn)
        fs = wp.connect("127.0.0.1", self.port, self.ca, cert, key)
        fs.env_lookup = self.stored_envelope
        return fs

    def stored_envelope(self, alert_id):
        """The envelope of alert:{id} as stored (bytes), or None."""
        return self.redis.hget_raw("alert:" + alert_id, "env")

    # -- Redis views --

    def stored_alert(self, alert_id):
        return self.redis.hgetall("alert:" + alert_id)

    def rate(self, alert_id):
        """{node: {counter: int}} from rate:{id}."""
        out = {}
        for k, v in self.redis.hgetall("rate:" + alert_id).items():
            node, _, counter = k.rpartition(":")
            out.setdefault(node, {})[counter] = int(v)
        return out

    def acks(self, alert_id):
        """{cn: (state, ms, reach|None)} from ack:{id}."""
        out = {}
        for cn, v in self.redis.hgetall("ack:" + alert_id).items():
            parts = v.split(":")
            out[cn] = (int(parts[0]), int(parts[1]),
                       int(parts[2]) if len(parts) > 2 and parts[2] else None)
        return out

    def rate_from_acks(self, alert_id, target, tree=None):
        """
        rate:{id} as ack:{id} says it must be: per node from each agent's
        node up to the target, how many agents are at or past delivered,
        shown, read and relayed (by rank).
        """
        tree = tree or self.tree
        node_of = {p["cn"]: p["node"] for p in tree.principals}
        want = {}
        for cn, (state, _, _) in self.acks(alert_id).items():
            node = node_of[cn]
            while node is not None:
                counters = want.setdefault(node, {})
                for name, _, rank in ACK_STATES:
                    if ACK_RANK[state] >= rank:
                        counters[name] = counters.get(name, 0) + 1
                if node == target:
                    break
                node = tree.parent(node)
        return want

    def assert_rate_matches_acks(self, alert_id, target, tree=None):
        """Every counter in rate:{id} equals the count from ack:{id}."""
        want = self.rate_from_acks(alert_id, target, tree)
        rate = self.rate(alert_id)
        assert rate, "no rate:%s" % alert_id
        for node in set(rate) | set(want):
            assert node in rate, "rate:%s has no %s" % (alert_id, node)
            for name, _, _ in ACK_STATES:
                have = rate[node].get(name, 0)
                should = want.get(node, {}).get(name, 0)
                assert have == should, \
                    "rate:%s %s %s is %d, ack:%s says %d" % (
                        alert_id, node, name, have, alert_id, should)

    def store_snapshot(self):
        """What a refused publish must leave alone."""
        return {
            "alerts": self.redis.xlen("alerts"),
            "live": self.redis.zcard("live"),
            "seq": self.redis.get("seq"),
            "alert_keys": [k for k in self.redis.keys("alert:*")],
        }
