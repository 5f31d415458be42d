#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""
size: wuzha at the size of a city and of a province.  A benchmark that
measures and prints; it fails nothing on time.

    tests/bench/size.py                      a city: 1 police unit, 600
                                             schools x 10 departments x
                                             25 classes (156,601 nodes)
    tests/bench/size.py --cities 16          a province: 16 such units
    tests/bench/size.py --schools 40         a smaller world, to try it

For the world asked for, from nothing, in a temporary directory: the tree
file generated (one advisor per class, a desk per school, a liaison per
department, an officer per police unit), a private redis-server (unix
socket, no persistence), a test CA; then, each step timed, and each one
that cannot run said so with the reason of the step it needed:

  import        wuzhactl tree import: wall time, its peak RSS, Redis's
                memory before and after and its peak, the longest a
                Redis PING waited meanwhile (a probe every 10 ms)
  start         wuzhad to "listening", its RSS per tree node
  agents        swarm connects --agents advisors (the first classes),
                wuzhad's RSS per connected agent
  publish       one alert to the police root and one to a school, over a
                session of the officer: PUBLISHED latency, then the time
                until every targeted agent's ack is stored; Redis time
                per call (INFO commandstats) and the slowest call
                (SLOWLOG); Redis bytes per alert (MEMORY USAGE of
                alert:, rate:, ack: keys)
  views         wuzhactl status, pending, report and watch (to its first
                screen) at the root and at a school: latency or refusal
  reload        one class added and the tree imported again, which wuzhad
                applies as a diff; then SIGHUP, a full load of the same
                generation and every certificate checked again: for
                each, the time to the new tree, the longest event-loop
                stall meanwhile, seen from outside as the longest
                PING/PONG round trip of a session pinging every 10 ms,
                and wuzhad's own log lines about it

The figures go to stdout as one JSON object (--json) or as lines of
text.  Every process started here is stopped by its pid on every way
out; loopback only.
"""

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "system"))

import harness  # noqa: E402
import wuzha_proto as wp  # noqa: E402

STEP_TIMEOUT = 900       # seconds any one step may take


# --- the world ------------------------------------------------------------

class World:
    """Ids and principals of a generated tree, by index."""

    def __init__(self, cities, schools, depts, classes):
        self.cities, self.schools = cities, schools
        self.depts, self.classes = depts, classes

    def police(self, c):
        return "city%02d" % c

    def root(self):
        """The top: a province's department over the cities, or the city."""
        return "province" if self.cities > 1 else self.police(0)

    def officer(self):
        return "officer-prov" if self.cities > 1 else "officer-00"

    def top(self):
        """Path of the cities' parent, "" for a lone city."""
        return "province/" if self.cities > 1 else ""

    def school(self, c, s):
        return "c%02d-s%03d" % (c, s)

    def dept(self, c, s, d):
        return "%s-d%02d" % (self.school(c, s), d)

    def klass(self, c, s, d, k):
        return "%s-k%02d" % (self.dept(c, s, d), k)

    def advisor(self, n):
        return "adv-%07d" % n

    @property
    def nodes(self):
        per_school = 1 + self.depts * (1 + self.classes)
        return self.cities * (1 + self.schools * per_school) + \
            (1 if self.cities > 1 else 0)

    def nclasses(self):
        return self.cities * self.schools * self.depts * self.classes

    def write(self, path, extra_class=False):
        """
        The tree as YAML (conf/tree.yaml's form) and principals.txt (what
        `wuzhactl tree principals` prints) beside it.  extra_class: one
        class more in the first department, with its advisor.
        """
        plist = os.path.join(os.path.dirname(path), "principals.txt")
        n = 0
        with open(path, "w", encoding="utf-8") as f, \
                open(plist, "w", encoding="utf-8") as p:
            def node(nid, tier, parent=None):
                f.write("  - {id: %s, name: %s, tier: %s%s}\n" % (
                    nid, nid, tier, ", parent: " + parent if parent else ""))

            def principal(cn, nid, rights, path):
                p.write("%s %s %s %s\n" % (cn, nid, rights, path))

            f.write("nodes:\n")
            if self.cities > 1:
                node("province", "police")
                principal("officer-prov", "province", "issue,observe",
                          "province")
            for c in range(self.cities):
                pol = self.police(c)
                node(pol, "police", "province" if self.cities > 1 else None)
                principal("officer-%02d" % c, pol, "issue,observe",
                          self.top() + pol)
                for s in range(self.schools):
                    sch = self.school(c, s)
                    sp = "%s%s/%s" % (self.top(), pol, sch)
                    node(sch, "school", pol)
                    principal("desk-" + sch, sch, "receive,issue,observe", sp)
                    for d in range(self.depts):
                        dep = self.dept(c, s, d)
                        dp = "%s/%s" % (sp, dep)
                        node(dep, "department", sch)
                        principal("liaison-" + dep, dep, "receive", dp)
                        more = 1 if (extra_class and c == s == d == 0) else 0
                        for k in range(self.classes + more):
                            cls = self.klass(c, s, d, k)
                            node(cls, "class", dep)
                            if k < self.classes:
                                cn = self.advisor(n)
                                n += 1
                            else:
                                cn = "adv-extra"
                            principal(cn, cls, "receive", "%s/%s" % (dp, cls))
        return plist

    @staticmethod
    def append_principals(path, plist):
        with open(path, "a", encoding="utf-8") as f, \
                open(plist, encoding="utf-8") as p:
            f.write("principals:\n")
            for line in p:
                cn, node, rights, _ = line.split()
                f.write("  - {cn: %s, node: %s, rights: [%s]}\n"
                        % (cn, node, rights.replace(",", ", ")))


# --- measuring helpers ------------------------------------------------------

def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_measured(argv, cwd, timeout=STEP_TIMEOUT):
    """Run argv; (rc, out, err, seconds, its own peak RSS in kB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err)
        deadline = t0 + timeout
        while True:
            # wait4, not Popen.wait: the child's own usage, not the max
            # over every child this process ever had.
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                break
            if time.monotonic() > deadline:
                p.kill()
            time.sleep(0.005)
        took = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (p.returncode, out.read().decode("utf-8", "replace"),
                err.read().decode("utf-8", "replace"), took, ru.ru_maxrss)


class Prober(threading.Thread):
    """Calls probe() every period s; keeps the longest it took."""

    def __init__(self, probe, period=0.01):
        super().__init__(daemon=True)
        self.probe, self.period = probe, period
        self.worst = 0.0
        self.errors = 0
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            t0 = time.monotonic()
            try:
                self.probe()
            except Exception:   # noqa: BLE001 (a probe that failed counts)
                self.errors += 1
            took = time.monotonic() - t0
            self.worst = max(self.worst, took)
            self.stop_ev.wait(max(0.0, self.period - took))

    def stop(self):
        self.stop_ev.set()
        self.join(30)
        return self.worst


def redis_info(env, section):
    """INFO section as {key: value}."""
    out = {}
    for ln in env.redis.info(section):
        k, _, v = ln.partition(":")
        out[k] = v
    return out


def commandstats(env):
    """{command: (calls, usec)} from INFO commandstats."""
    out = {}
    for k, v in redis_info(env, "commandstats").items():
        f = dict(x.split("=", 1) for x in v.split(","))
        out[k[len("cmdstat_"):]] = (int(f["calls"]), int(f["usec"]))
    return out


def slowest(env):
    """
    (command, ms, what) of the slowest call in the slow log, and reset
    it; what: its first arguments after a script's sha and how many it
    had (Redis keeps 32 and counts the rest), to tell the scripts apart.
    """
    worst = (None, 0.0, None)

    def text(x):
        return x.decode("utf-8", "replace") if isinstance(x, bytes) else \
            str(x)

    for e in env.redis.cmd("SLOWLOG", "GET", "128") or []:
        ms = e[2] / 1000.0
        if ms > worst[1]:
            args = [text(x) for x in e[3]]
            n = len(args)
            m = re.match(r"\.\.\. \((\d+) more arguments\)", args[-1])
            if m:
                n += int(m.group(1)) - 1
            head = args[2:8] if args[0].upper() == "EVALSHA" else args[1:6]
            worst = (args[0], ms, "%s ... (%d arguments)"
                     % (" ".join(a[:40] for a in head), n))
    env.redis.cmd("SLOWLOG", "RESET")
    return worst


# --- the run ----------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.a = args
        self.w = World(args.cities, args.schools, args.depts, args.classes)
        self.fig = {"world": {"cities": args.cities, "schools": args.schools,
                              "departments": args.depts,
                              "classes": args.classes,
                              "nodes": self.w.nodes}}
        self.failed = None      # the step whose failure stops the rest
        self.env = None

    def say(self, msg):
        print("size: " + msg, file=sys.stderr, flush=True)

    def step(self, name, fn):
        if self.failed:
            self.fig[name] = {"skipped": "needs %s" % self.failed}
            return
        self.say(name)
        try:
            self.fig[name] = fn()
        except Exception as ex:   # noqa: BLE001
            self.fig[name] = {"error": str(ex).splitlines()[0][:300]}
            self.failed = name
        if isinstance(self.fig[name], dict) and "error" in self.fig[name]:
            self.failed = name
            self.say("%s: %s" % (name, self.fig[name]["error"]))

    # -- steps --

    def s_generate(self):
        t0 = time.monotonic()
        path = os.path.join(self.env.dir, "tree.yaml")
        plist = self.w.write(path)
        World.append_principals(path, plist)
        self.tree_path, self.plist = path, plist
        self.env.tree_path = path
        return {"seconds": round(time.monotonic() - t0, 2),
                "yaml_mb": round(os.path.getsize(path) / 1e6, 1)}

    def s_pki(self):
        pki = self.env.pki
        ca = harness.binary("wuzha-ca")
        top, root = self.w.top(), self.w.root()
        for argv in ([ca, "init", pki], [ca, "server", pki, "wuzhad"],
                     [ca, "client", pki, self.w.officer(), "--path",
                      top.rstrip("/") or root, "--issue", root],
                     [ca, "client", pki, "desk-c00-s000", "--path",
                      top + "city00/c00-s000", "--issue", "c00-s000"]):
            self.env.run(argv)
        return {}

    def import_tree(self):
        env = self.env
        ping = Prober(lambda: env.redis.cmd("PING"))
        before = redis_info(env, "memory")
        ping.start()
        rc, out, err, took, peak = run_measured(
            [harness.binary("wuzhactl"), "tree", "import", self.tree_path,
             "--redis", env.redis_sock, "--prefix", env.prefix], env.dir)
        worst = ping.stop()
        after = redis_info(env, "memory")
        r = {"seconds": round(took, 2), "wuzhactl_peak_rss_mb":
             round(peak / 1024, 1),
             "redis_used_mb": round(int(after["used_memory"]) / 2**20, 1),
             "redis_peak_mb": round(int(after["used_memory_peak"]) / 2**20,
                                    1),
             "redis_tree_bytes_per_node": round(
                 (int(after["used_memory"]) - int(before["used_memory"]))
                 / self.w.nodes),
             "redis_ping_worst_ms": round(worst * 1000, 1)}
        if rc != 0:
            r["error"] = "wuzhactl tree import: " + err.strip()
        return r

    def s_start(self):
        env = self.env
        t0 = time.monotonic()
        env.start_daemon(wait=False, log_level="info",
                         redis={"command_timeout": "60s"},
                         timeouts={"tree_refresh": "1h"},
                         limits={"max_connections": self.a.agents + 100})
        m = env.daemon.wait_log(r"listening on 127\.0\.0\.1:(\d+)",
                                STEP_TIMEOUT)
        env.port = int(m.group(1))
        took = time.monotonic() - t0
        rss = rss_kb(env.daemon.proc.pid)
        self.rss_idle = rss
        return {"seconds": round(took, 2), "rss_mb": round(rss / 1024, 1),
                "rss_bytes_per_node": round(rss * 1024 / self.w.nodes)}

    def s_agents(self):
        env = self.env
        n = min(self.a.agents, self.w.nclasses())
        self.nagents = n
        t0 = time.monotonic()
        self.swarm = env.start_swarm("adv-%07d", n, timeout=STEP_TIMEOUT)
        # swarm reads principals.txt: ours, written with the tree.
        self.swarm.wait_ready(timeout=STEP_TIMEOUT)
        took = time.monotonic() - t0
        rss = rss_kb(env.daemon.proc.pid)
        # Connections reuse heap the tree load freed: read this beside
        # the absolute RSS.
        return {"agents": n, "seconds": round(took, 2),
                "rss_mb": round(rss / 1024, 1),
                "rss_bytes_per_agent": round((rss - self.rss_idle) * 1024 / n)}

    def publish_one(self, target, tag):
        env = self.env
        who = self.w.officer()
        key = wp.load_key(env.key(who))
        cert = wp.load_cert(env.crt(who))
        aid = env.new_id(tag)
        body = wp.signed_envelope(wp.alert_body(aid, who, target), key, cert)
        env.redis.cmd("SLOWLOG", "RESET")
        cs0 = commandstats(env)
        fs, _ = env.session(self.w.officer(), role=wp.ROLE_CONSOLE,
                            timeout=STEP_TIMEOUT)
        try:
            t0 = time.monotonic()
            fs.send_raw(wp.publish(body))
            t, msg = fs.recv(STEP_TIMEOUT)
            took = time.monotonic() - t0
        finally:
            fs.close()
        if t != wp.PUBLISHED:
            return {"error": "PUBLISH answered %s %r"
                    % (wp.TYPE_NAMES.get(t), msg)}
        # Acks: as many as agents of ours below the target.
        want = self.agents_below(target)
        t1 = time.monotonic()
        harness.wait_for(lambda: env.redis.hlen("ack:" + aid) >= want,
                         STEP_TIMEOUT, "%d acks of %s" % (want, aid),
                         interval=0.01)
        acks = time.monotonic() - t1 + took
        cs1 = commandstats(env)
        calls = {}
        for k, (c, us) in cs1.items():
            c0, us0 = cs0.get(k, (0, 0))
            if c > c0:
                calls[k] = round((us - us0) / (c - c0) / 1000.0, 3)
        name, worst, what = slowest(env)
        mem = 0
        for k in ("alert:", "rate:", "ack:"):
            v = env.redis.cmd("MEMORY", "USAGE", env.prefix + k + aid)
            mem += int(v or 0)
        return {"id": aid, "targeted": msg["targeted"],
                "published_ms": round(took * 1000, 1),
                "acks_stored_ms": round(acks * 1000, 1), "acks": want,
                "redis_ms_per_call": calls,
                "redis_slowest": {"command": name, "ms": round(worst, 2),
                                  "what": what},
                "redis_bytes_for_alert": mem}

    def agents_below(self, target):
        n = 0
        with open(self.plist, encoding="utf-8") as f:
            for line in f:
                cn, _, _, path = line.split()
                if cn.startswith("adv-") and cn != "adv-extra" and \
                        int(cn[4:]) < self.nagents and \
                        target in path.split("/"):
                    n += 1
        return n

    def s_publish(self):
        self.alerts = {}
        out = {}
        for where, target in (("root", self.w.root()),
                              ("school", self.w.school(0, 0))):
            r = self.publish_one(target, "size-" + where)
            out[where] = r
            if "error" in r:
                return dict(out, error="%s: %s" % (where, r["error"]))
            self.alerts[where] = (r["id"], target)
        return out

    def timed_ctl(self, *args, first_line=False):
        env = self.env
        argv = [harness.binary("wuzhactl"), "-c",
                env.client_conf(self.w.officer())] + list(args)
        t0 = time.monotonic()
        if first_line:
            p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, cwd=env.dir)
            try:
                line = p.stdout.readline()
                took = time.monotonic() - t0
            finally:
                p.kill()
                _, err = p.communicate()
            if not line:
                return {"error": err.decode("utf-8", "replace").strip()}
            return {"ms": round(took * 1000, 1)}
        rc, out, err, took, _ = run_measured(argv, env.dir)
        r = {"ms": round(took * 1000, 1), "bytes": len(out)}
        if rc != 0:
            r = {"refused": err.strip()[:200], "ms": r["ms"]}
        return r

    def s_views(self):
        out = {}
        for where, (aid, node) in self.alerts.items():
            out[where] = {
                "status": self.timed_ctl("status", aid, "--node", node),
                "status_sorted": self.timed_ctl("status", aid, "--node",
                                                node, "--sort", "read"),
                "pending": self.timed_ctl("pending", aid, "--node", node),
                "report": self.timed_ctl("report", "--node", node, "--from",
                                         "-1h", "--to", "+1h"),
                "agents": self.timed_ctl("agents", "--node", node),
                "watch_first_screen": self.timed_ctl(
                    "watch", aid, "--node", node, first_line=True),
            }
        return out

    def s_reload(self):
        env = self.env
        self.w.write(self.tree_path, extra_class=True)
        World.append_principals(self.tree_path, self.plist)
        fs, _ = env.session(self.w.officer(), role=wp.ROLE_CONSOLE,
                            timeout=STEP_TIMEOUT)
        nonce = [0]

        def ping():
            nonce[0] += 1
            fs.send_raw(wp.ping(nonce[0]))
            while True:
                t, msg = fs.recv(STEP_TIMEOUT)
                if t == wp.PONG:
                    return

        def reload(pattern, after=None):
            """SIGHUP, until wuzhad logs pattern (and after, if given):
            seconds to pattern, worst PING round trip meanwhile, and what
            wuzhad said."""
            loop = Prober(ping)
            loop.start()
            try:
                time.sleep(0.3)
                mark = len(env.daemon.log())
                t0 = time.monotonic()
                env.daemon.proc.send_signal(signal.SIGHUP)
                env.daemon.wait_log(pattern, STEP_TIMEOUT, start=mark)
                took = time.monotonic() - t0
                if after:
                    env.daemon.wait_log(after, STEP_TIMEOUT, start=mark)
                time.sleep(0.3)
            finally:
                worst = loop.stop()
            said = [ln.split("wuzhad: ", 1)[-1] for ln in
                    env.daemon.log()[mark:].splitlines()
                    if re.search(r"reload:|tree: generation \d+:", ln)]
            return {"seconds": round(took, 2),
                    "loop_stall_worst_ms": round(worst * 1000, 1),
                    "probe_errors": loop.errors, "wuzhad_said": said}

        # wuzhad polls tree-gen only hourly here (s_start): SIGHUP says
        # when.  A new generation: its diff applied in place.  Then the
        # same generation again: read whole and swapped.  Each time the
        # configuration is read again and every certificate checked.
        try:
            r = self.import_tree()
            if "error" in r:
                return {"import": r, "error": r["error"]}
            checked = r"reload: \d+ certificates? checked"
            diff = reload(r"tree: generation \d+: .*\(a diff of", checked)
            full = reload(r"tree: generation \d+: .*\(a full load\)",
                          checked)
        finally:
            fs.close()
        return dict(diff, **{"import": r, "full": full})

    def run(self):
        self.env = harness.Env(tmp=tempfile.mkdtemp(prefix="wz-size-"),
                               private_redis=True)
        # Ours, written with the tree: wuzhactl would read the whole file.
        self.env.principals_file = lambda: self.plist
        try:
            self.step("generate", self.s_generate)
            self.env.start_redis()
            self.env.redis.cmd("CONFIG", "SET", "slowlog-log-slower-than",
                               "1000")
            self.step("pki", self.s_pki)
            self.step("import", self.import_tree)
            self.step("start", self.s_start)
            self.step("agents", self.s_agents)
            self.step("publish", self.s_publish)
            self.step("views", self.s_views)
            self.step("reload", self.s_reload)
        finally:
            # The harness prints wuzhad's log tail: not onto the figures.
            with contextlib.redirect_stdout(sys.stderr):
                errors = self.env.teardown()
            if errors:
                self.fig["teardown"] = errors
            if not self.a.keep:
                shutil.rmtree(self.env.dir, ignore_errors=True)
            else:
                self.say("kept " + self.env.dir)
        return self.fig


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cities", type=int, default=1)
    ap.add_argument("--schools", type=int, default=600)
    ap.add_argument("--depts", type=int, default=10)
    ap.add_argument("--classes", type=int, default=25)
    ap.add_argument("--agents", type=int, default=10000)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    for v in (a.cities, a.schools, a.depts, a.classes, a.agents):
        if v < 1:
            ap.error("every count must be at least 1")
    fig = Bench(a).run()
    if a.json:
        print(json.dumps(fig))
    else:
        for k, v in fig.items():
            print("%-9s %s" % (k, json.dumps(v, ensure_ascii=False)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
