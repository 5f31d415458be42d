# SPDX-License-Identifier: ISC
"""
pytest fixtures for the system tests.

  env  a bare harness.Env: nothing started; the test calls env.setup(...)
       with its own tree and options, or starts pieces by hand.  It uses
       the shared redis-server of the run, if any, unless the test module
       sets PRIVATE_REDIS = True (it stops Redis, or reads its stats).
  private_env
       the same, always with a redis-server of its own.
  wz   the usual world: private redis, the demo tree imported, a cert per
       principal, wuzhad listening.  Agents are started by the test.
  notify
       a harness.Notify in env's directory: start wuzhad with
       NOTIFY_SOCKET=notify.path to read what it tells systemd.

Either way, the teardown stops every process by pid and fails the test if
wuzhad did not exit 0 on SIGTERM.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def _env(private_redis):
    e = harness.Env(private_redis=private_redis)
    errors = []
    try:
        yield e
    finally:
        errors = e.teardown()
    assert not errors, "; ".join(errors)


@pytest.fixture
def env(request):
    yield from _env(getattr(request.module, "PRIVATE_REDIS", False))


@pytest.fixture
def private_env():
    yield from _env(True)


@pytest.fixture
def wz(env):
    env.setup()
    return env


@pytest.fixture
def notify(env):
    n = harness.Notify(os.path.join(env.dir, "notify.sock"))
    try:
        yield n
    finally:
        n.close()
