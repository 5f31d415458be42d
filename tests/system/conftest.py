# SPDX-License-Identifier: ISC
"""
pytest fixtures for the system tests.

  env  a bare harness.Env: nothing started; the test calls env.setup(...)
       with its own tree and options, or starts pieces by hand.
  wz   the usual world: private redis, the demo tree imported, a cert per
       principal, wuzhad listening.  Agents are started by the test.

Either way, the teardown stops every process by pid and fails the test if
wuzhad did not exit 0 on SIGTERM.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


@pytest.fixture
def env():
    e = harness.Env()
    errors = []
    try:
        yield e
    finally:
        errors = e.teardown()
    assert not errors, "; ".join(errors)


@pytest.fixture
def wz(env):
    env.setup()
    return env
