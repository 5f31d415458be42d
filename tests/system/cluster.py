# SPDX-License-Identifier: ISC
"""
cluster: a Redis primary, its replica and three Sentinels on loopback, for
the fail-over tests.  Every redis-server listens on 127.0.0.1 at a free
port (replication and Sentinel need TCP) and on a unix socket of its own
in the test's directory (for harness.Redis).  Processes are spawned
through the Env, so its teardown stops them by pid whatever happens.

    c = cluster.Cluster(env, replicas=1)
    c.start()                     # primary, replica, Sentinels, in sync
    c.primary()                   # the Node the Sentinels name now
    c.kill(node)                  # SIGKILL
    c.wait_promoted(old)          # a Sentinel names another primary
    c.restart_as_replica(node)    # back, replicaof the new primary
"""

import os
import signal
import socket

import harness

MASTER = "wuzha"
DOWN_AFTER_MS = 600      # Sentinel: no PING answer this long is down
FAILOVER_TIMEOUT_MS = 2000


def free_ports(n):
    """n distinct free loopback ports below the ephemeral range."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    span = max(1, low - 21000)
    base = (os.getpid() * 7919) % span
    out = []
    for i in range(2000):
        port = 20000 + (base + i * 17) % span
        if port in out:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            out.append(port)
        except OSError:
            continue
        finally:
            s.close()
        if len(out) == n:
            return out
    raise AssertionError("no %d free ports below %d" % (n, low))


class Node:
    """One redis-server of the cluster: its port, socket and process."""

    def __init__(self, env, name, port):
        self.env, self.name, self.port = env, name, port
        self.sock = os.path.join(env.dir, name + ".sock")
        self.dir = os.path.join(env.dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.proc = None
        self.redis = harness.Redis(self.sock, env.prefix, timeout=5)

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def start(self, replicaof=None):
        self.redis.close()
        argv = ["redis-server", "--port", str(self.port), "--bind",
                "127.0.0.1", "--unixsocket", self.sock, "--unixsocketperm",
                "700", "--save", "", "--appendonly", "no", "--dir",
                self.dir, "--loglevel", "notice",
                # A replica lagging a little is still fine to promote.
                "--repl-diskless-sync", "yes",
                "--repl-diskless-sync-delay", "0"]
        if replicaof is not None:
            argv += ["--replicaof", "127.0.0.1", str(replicaof.port)]
        n = sum(1 for p in self.env.procs if p.name.startswith(self.name))
        self.proc = self.env.spawn("%s.%d" % (self.name, n), argv)

        def up():
            if not self.proc.alive():
                raise AssertionError("%s exited:\n%s" % (self.name,
                                                         self.proc.tail()))
            try:
                return self.redis.cmd("PING") == "PONG"
            except (OSError, harness.RespError):
                self.redis.close()
                return False
        harness.wait_for(up, 15, "redis-server %s" % self.name)

    def kill(self):
        self.proc.stop(signal.SIGKILL)
        self.redis.close()

    def alive(self):
        return self.proc is not None and self.proc.alive()

    def info(self, section="replication"):
        text = self.redis.cmd("INFO", section).decode()
        return dict(ln.split(":", 1) for ln in text.splitlines()
                    if ":" in ln)


class Sentinel:
    """One redis-server --sentinel, asked over TCP."""

    def __init__(self, env, idx, port, primary):
        self.env, self.port = env, port
        self.name = "sentinel%d" % idx
        self.conf = os.path.join(env.dir, self.name + ".conf")
        with open(self.conf, "w") as f:
            f.write("\n".join([
                "port %d" % port,
                "bind 127.0.0.1",
                'dir "%s"' % env.dir,
                "sentinel monitor %s 127.0.0.1 %d 2" % (MASTER,
                                                        primary.port),
                "sentinel down-after-milliseconds %s %d" % (MASTER,
                                                            DOWN_AFTER_MS),
                "sentinel failover-timeout %s %d" % (MASTER,
                                                     FAILOVER_TIMEOUT_MS),
                "sentinel parallel-syncs %s 1" % MASTER,
            ]) + "\n")
        self.proc = env.spawn(self.name, ["redis-server", self.conf,
                                          "--sentinel"])

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def cmd(self, *args):
        """One command over TCP; the reply decoded roughly (RESP2)."""
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=2) as s:
            out = b"*%d\r\n" % len(args)
            for a in args:
                a = str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
            s.sendall(out)
            r = harness.Redis.__new__(harness.Redis)
            r.sock, r.buf = s, b""
            return r._reply()

    def master_addr(self):
        """"host:port" this Sentinel names for MASTER, or None."""
        try:
            r = self.cmd("SENTINEL", "get-master-addr-by-name", MASTER)
        except OSError:
            return None
        if not isinstance(r, list) or len(r) != 2:
            return None
        return "%s:%s" % (r[0].decode(), r[1].decode())


class Cluster:
    """A primary with replicas and three Sentinels, all on loopback."""

    def __init__(self, env, replicas=1, sentinels=3):
        ports = free_ports(1 + replicas + sentinels)
        self.env = env
        self.nodes = [Node(env, "redis%d" % i, ports[i])
                      for i in range(1 + replicas)]
        self.sentinel_ports = ports[1 + replicas:]
        self.sentinels = []

    @property
    def sentinel_addrs(self):
        return ["127.0.0.1:%d" % p for p in self.sentinel_ports]

    def start(self):
        first = self.nodes[0]
        first.start()
        for n in self.nodes[1:]:
            n.start(replicaof=first)
        self.wait_synced(first)
        for i, port in enumerate(self.sentinel_ports):
            self.sentinels.append(Sentinel(self.env, i, port, first))

        def known():
            return all(s.master_addr() == first.addr for s in self.sentinels)
        harness.wait_for(known, 15, "every Sentinel to watch the primary",
                         interval=0.1)
        # Each Sentinel must have found the others and the replicas, or
        # there is no quorum for the first fail-over.
        def peers():
            for s in self.sentinels:
                try:
                    m = s.cmd("SENTINEL", "master", MASTER)
                except OSError:
                    return False
                d = dict(zip(m[::2], m[1::2]))
                if int(d[b"num-other-sentinels"]) < len(self.sentinels) - 1:
                    return False
                if int(d[b"num-slaves"]) < len(self.nodes) - 1:
                    return False
            return True
        harness.wait_for(peers, 30, "the Sentinels to see each other and "
                         "the replicas", interval=0.2)

    def node_at(self, addr):
        for n in self.nodes:
            if n.addr == addr:
                return n
        return None

    def primary(self):
        """The Node a majority of the Sentinels name now (or None)."""
        votes = {}
        for s in self.sentinels:
            a = s.master_addr()
            if a is not None:
                votes[a] = votes.get(a, 0) + 1
        for a, v in votes.items():
            if v >= 2:
                return self.node_at(a)
        return None

    def wait_promoted(self, old, timeout=30):
        """Until a majority names a primary other than old; that Node."""
        def moved():
            p = self.primary()
            if p is None or p is old:
                return None
            try:
                return p if p.info().get("role") == "master" else None
            except (OSError, harness.RespError):
                p.redis.close()
                return None
        return harness.wait_for(moved, timeout, "a Sentinel fail-over from "
                                "%s" % old.name, interval=0.1)

    def restart_as_replica(self, node, primary, timeout=30):
        """Start node again as a replica of primary, and wait for sync."""
        node.start(replicaof=primary)
        self.wait_synced(primary, timeout)

    def wait_synced(self, primary, timeout=30):
        """Until every live replica of primary is online and caught up."""
        want = sum(1 for n in self.nodes if n is not primary and n.alive())

        def synced():
            try:
                i = primary.info()
            except (OSError, harness.RespError):
                primary.redis.close()
                return False
            online = [dict(kv.split("=") for kv in v.split(","))
                      for k, v in i.items() if k.startswith("slave")
                      and "state=online" in v]
            return len(online) >= want and all(int(r["lag"]) <= 1
                                               for r in online)
        harness.wait_for(synced, timeout, "the replicas of %s to catch up"
                         % primary.name, interval=0.1)
