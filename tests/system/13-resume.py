# SPDX-License-Identifier: ISC
"""
13-resume: an agent whose connection is cut comes back to the same wuzhad
with the session ticket it was given (TLS 1.3 resumption, no full
handshake), and the session works as before; after a restart of wuzhad
(new ticket keys) it falls back to a full handshake.  The cut is made by
a small TCP relay between the agent and wuzhad that drops its
connections, so neither end is stopped or told.
"""

import os
import selectors
import socket
import threading

import pytest

import harness
import wuzha_proto as wp

RELAY_JOIN = 5.0


class Relay:
    """A loopback TCP relay to 127.0.0.1:port; drop() cuts every pair."""

    def __init__(self, port):
        self.port = port
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.listen_port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = []
        self.accepted = 0
        self.stopping = False
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.port), 5)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.pairs.append((c, u))
                self.accepted += 1
            t = threading.Thread(target=self._pump, args=(c, u), daemon=True)
            self.threads.append(t)
            t.start()

    def _pump(self, a, b):
        sel = selectors.DefaultSelector()
        try:
            sel.register(a, selectors.EVENT_READ, b)
            sel.register(b, selectors.EVENT_READ, a)
            while not self.stopping:
                for key, _ in sel.select(0.2):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            sel.close()
            self._close(a, b)

    def _close(self, a, b):
        with self.lock:
            if (a, b) in self.pairs:
                self.pairs.remove((a, b))
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def drop(self):
        """Cut every relayed connection (both ends see it close)."""
        with self.lock:
            pairs = list(self.pairs)
        for a, b in pairs:
            self._close(a, b)
        return len(pairs)

    def stop(self):
        self.stopping = True
        self.lsock.close()
        self.drop()
        for t in self.threads:
            t.join(RELAY_JOIN)


@pytest.fixture
def relayed(env):
    # A fixed port, so wuzhad can come back on it after a restart.
    env.setup(port=harness.fixed_port())
    relay = Relay(env.port)
    try:
        yield env, relay
    finally:
        relay.stop()


def _start_agent_via(wz, relay, cn):
    """wuzha-agent for cn (hook as usual) connecting through the relay."""
    shown = os.path.join(wz.dir, "agent-%s.jsonl" % cn)
    hook = "%s %s %s 0" % (harness.PYTHON, os.path.join(wz.dir, "hook.py"),
                           shown)
    conf = wz.client_conf(cn, name="agent-" + cn, hook=hook,
                          state=os.path.join(wz.dir, "agent-%s.state" % cn))
    with open(conf, encoding="utf-8") as f:
        text = f.read()
    direct = '"127.0.0.1:%d"' % wz.port
    assert direct in text
    with open(conf, "w", encoding="utf-8") as f:
        f.write(text.replace(direct, '"127.0.0.1:%d"' % relay.listen_port))
    return wz.start_agent(cn, conf=conf)


TLS_UP = r"TLS up with 127\.0\.0\.1:\d+ \([^,]+, (session resumed|full handshake)\)"


def _next_handshake(agent, start):
    """Wait for the next 'TLS up' line after offset start: (kind, end)."""
    m = agent.proc.wait_log(TLS_UP, timeout=15, start=start)
    agent.proc.wait_log(r"connected to .* welcome principal %s" % agent.cn,
                        timeout=10, start=m.end())
    return m.group(1), m.end()


def test_reconnect_to_the_same_daemon_resumes_the_tls_session(relayed):
    wz, relay = relayed
    a = _start_agent_via(wz, relay, "adv-a11")
    kind, off = _next_handshake(a, 0)
    assert kind == "full handshake"
    a.proc.wait_log(r"new session ticket", timeout=10)
    first, _, _ = wz.publish("officer-li", "school-a")
    a.wait_shown(first)

    for _ in range(2):
        assert relay.drop() == 1
        a.proc.wait_log(r"disconnected from", timeout=10, start=off)
        kind, off = _next_handshake(a, off)
        assert kind == "session resumed", a.proc.tail()
    # The resumed session is a working one, as the same principal.
    second, _, _ = wz.publish("officer-li", "school-a-d1-c1")
    a.wait_shown(second)
    assert a.shown_ids() == [first, second]
    assert relay.accepted == 3

    # A new wuzhad does not know the old tickets: a full handshake.
    port = wz.port
    assert wz.stop_daemon() == 0
    relay.drop()
    wz.start_daemon(port=port)
    kind, off = _next_handshake(a, off)
    assert kind == "full handshake"
    third, _, _ = wz.publish("officer-li", "school-a")
    a.wait_shown(third, timeout=20)
    assert a.shown_ids() == [first, second, third]
    assert a.proc.alive()



def test_with_a_ticket_key_a_restarted_daemon_resumes_sessions(env):
    env.setup(port=harness.fixed_port(), ticket_key=True)
    relay = Relay(env.port)
    try:
        a = _start_agent_via(env, relay, "adv-a12")
        kind, off = _next_handshake(a, 0)
        assert kind == "full handshake"
        a.proc.wait_log(r"new session ticket", timeout=10)
        port = env.port
        assert env.stop_daemon() == 0
        relay.drop()
        env.start_daemon(port=port, ticket_key=True)
        # The ticket was made by the old process; the key is the same.
        kind, off = _next_handshake(a, off)
        assert kind == "session resumed", a.proc.tail()
        aid, _, _ = env.publish("officer-li", "school-a-d1-c2")
        a.wait_shown(aid, timeout=20)
    finally:
        relay.stop()


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))


def test_one_ticket_per_handshake_valid_for_a_week(env):
    """wuzhad sends one session ticket, with TLS 1.3's longest lifetime,
    so that agents still resume after a long-running daemon restarts."""
    env.setup()
    fs, _ = env.session("adv-a11")
    try:
        # The ticket follows the handshake; a PING round trip makes sure
        # the client has read it.
        fs.send_raw(wp.ping(7))
        t, msg = fs.recv()
        assert t == wp.PONG and msg["nonce"] == 7
        sess = fs.sock.session
        assert sess is not None and sess.has_ticket
        assert sess.ticket_lifetime_hint == 7 * 24 * 3600
    finally:
        fs.close()
