# SPDX-License-Identifier: ISC
"""
42-demo: scripts/demo --stay, as a person runs it to click through the
pages.  It opens with the addresses of the advisor's inbox, the display
page and the desk's console, each answering on loopback; it runs the whole
four-tier story (the display page in Chromium, the speech hook into a WAV
of checked length); it stays up until Ctrl-C (SIGINT), then stops
everything it started and exits 0.
"""

import http.client
import os
import re
import signal
import subprocess
import time
import urllib.parse

import harness

DEMO_TIMEOUT = 240


def _get(url):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        c.request("GET", u.path, headers={"Host": u.netloc})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_demo_opens_with_the_pages_and_stays_until_ctrl_c(tmp_path):
    out = tmp_path / "demo.out"
    env = dict(os.environ, TMPDIR=str(tmp_path))
    with open(out, "wb") as f:
        p = subprocess.Popen([os.path.join(harness.SRC, "scripts", "demo"),
                              "--stay"], stdout=f, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, env=env,
                             cwd=harness.SRC, start_new_session=True)
    try:
        def text():
            return out.read_text(encoding="utf-8", errors="replace")

        def staying():
            if p.poll() is not None:
                raise AssertionError("the demo exited %d:\n%s"
                                     % (p.returncode, text()[-3000:]))
            return "stays up until Ctrl-C" in text()
        harness.wait_for(staying, DEMO_TIMEOUT, "the demo to stay up",
                         interval=0.5)
        t = text()
        # The pages come first, before the story.
        first = t.index("advisor-a-cs-1's inbox:")
        assert first < t.index("officer-li (police) publishes"), t[:2000]
        urls = dict(re.findall(r"^(advisor-a-cs-1's inbox|campus screen "
                               r"\(display\)|desk-a's console): +(\S+)$",
                               t[t.index("stays up until Ctrl-C"):], re.M))
        assert len(urls) == 3, t[-1500:]
        for name, url in urls.items():
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+/[0-9a-f]{32}/"
                                r"(display)?", url), url
            status, body = _get(url)
            assert status == 200 and b"<!DOCTYPE html>" in body, name
        assert re.search(r"\.wav: [\d.]+ s of speech", t), t
        assert re.search(r"display\.png: \d+ bytes", t), t
        # Ctrl-C: everything stops, exit 0.
        os.kill(p.pid, signal.SIGINT)
        assert p.wait(timeout=30) == 0, text()[-2000:]
        time.sleep(0.5)
        for url in urls.values():
            try:
                _get(url)
                raise AssertionError("still answering after Ctrl-C: " + url)
            except OSError:
                pass
        try:
            os.killpg(p.pid, 0)
            raise AssertionError("the demo left processes running")
        except ProcessLookupError:
            pass
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
