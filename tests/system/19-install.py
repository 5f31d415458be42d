# SPDX-License-Identifier: ISC
"""
19-install: `meson install --destdir` of the build under test, into a
temporary directory.  It installs exactly the programs, the agent's
shipped hooks (libexec/wuzha), the systemd units, the sysusers snippet,
the example files and the four man pages, each in the directory this
build was configured with; the installed programs run and accept the
example files; the units name the installed programs and configuration;
`systemd-analyze verify` passes on wuzhad.service, on wuzhad@1.service
(one of several daemons on one host) and on wuzha-agent@demo.service in
the installed tree (and does fail on a broken
unit); systemd-sysusers makes the wuzha user from the snippet; and each man
page renders with `man -l` at 80 columns, and passes `mandoc -T lint`,
without a warning.

There is no tmpfiles.d snippet to check: wuzhad writes no files, and the
directories the units use (/var/lib/wuzha, /run/wuzha, the agents'
/var/lib/wuzha-agent) are made by systemd at each start, owned by the
unit's user, from StateDirectory= and RuntimeDirectory=.  /etc/wuzha holds
the keys, and who may read them is the administrator's choice (README.md,
"Running it as a service").
"""

import json
import os
import re
import shutil
import subprocess

import pytest

import harness

TIMEOUT = 60                  # one meson, man, mandoc or systemd-analyze run
MANWIDTH = 80

MAN_PAGES = ["man8/wuzhad.8", "man8/wuzha-agent.8", "man1/wuzhactl.1",
             "man5/wuzhad.yaml.5"]
# Installed for users as they are in conf/ (Debian's place for a
# package's examples: /usr/share/doc/PACKAGE/examples).
EXAMPLES = ["wuzhad.yaml", "agent.yaml", "tree.yaml", "redis.conf",
            "sentinel.conf"]
# The shipped hooks of wuzha-agent, in libexec/wuzha.
HOOKS = ["wuzha-notify", "wuzha-speak"]
# The alert templates, in share/wuzha/templates.
TEMPLATES = ["brush-order.yaml", "campus-loan.yaml", "case-followup.yaml",
             "fake-police.yaml", "goip.yaml", "holiday.yaml",
             "money-laundering.yaml", "two-cards.yaml"]


class Layout:
    """The install directories of the build under test, absolute, read
    from its meson-info (a relative directory is under the prefix; meson
    makes sysconfdir /etc for the prefix /usr)."""

    def __init__(self, build):
        path = os.path.join(build, "meson-info", "intro-buildoptions.json")
        with open(path, encoding="utf-8") as f:
            opts = {o["name"]: o["value"] for o in json.load(f)}
        self.prefix = opts["prefix"]

        def d(name):
            return os.path.normpath(os.path.join(self.prefix, opts[name]))
        self.bindir = d("bindir")
        self.sbindir = d("sbindir")
        self.sysconfdir = d("sysconfdir")
        self.mandir = d("mandir")
        self.examples = os.path.join(d("datadir"), "doc", "wuzha", "examples")
        self.templates = os.path.join(d("datadir"), "wuzha", "templates")
        self.unitdir = os.path.join(self.prefix, "lib", "systemd", "system")
        self.userunitdir = os.path.join(self.prefix, "lib", "systemd",
                                        "user")
        self.sysusersdir = os.path.join(self.prefix, "lib", "sysusers.d")
        self.hookdir = os.path.join(d("libexecdir"), "wuzha")

    def programs(self):
        return [os.path.join(self.sbindir, "wuzhad"),
                os.path.join(self.bindir, "wuzha-agent"),
                os.path.join(self.bindir, "wuzhactl")] + self.hooks()

    def hooks(self):
        return [os.path.join(self.hookdir, name) for name in HOOKS]

    def files(self):
        """Every file an install must make: path -> where its content
        comes from in the sources (None: built or generated)."""
        f = dict.fromkeys(self.programs())
        f.update({
            os.path.join(self.unitdir, "wuzhad.service"): None,
            os.path.join(self.unitdir, "wuzhad@.service"): None,
            os.path.join(self.unitdir, "wuzha-agent@.service"): None,
            os.path.join(self.userunitdir, "wuzha-agent.service"): None,
            os.path.join(self.sysusersdir, "wuzha.conf"):
                "systemd/wuzha.sysusers",
        })
        for name in EXAMPLES:
            f[os.path.join(self.examples, name)] = "conf/" + name
        for name in TEMPLATES:
            f[os.path.join(self.templates, name)] = "conf/templates/" + name
        for path in self.hooks():
            f[path] = "hooks/" + os.path.basename(path)
        for page in MAN_PAGES:
            f[os.path.join(self.mandir, page)] = \
                "man/" + os.path.basename(page)
        return f


def under(root, path):
    """path (absolute, as installed) inside the tree at root."""
    return os.path.join(root, path.lstrip("/"))


def run(argv, **kw):
    kw.setdefault("timeout", TIMEOUT)
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def tool(name, package):
    p = shutil.which(name)
    if not p:
        pytest.fail("%s not found: install the Debian package %s "
                    "(scripts/deps does)" % (name, package))
    return p


@pytest.fixture(scope="module")
def layout():
    return Layout(harness.BUILD)


@pytest.fixture(scope="module")
def destdir(tmp_path_factory, layout):
    """The build under test, installed into a fresh directory."""
    dest = str(tmp_path_factory.mktemp("destdir"))
    r = run([tool("meson", "meson"), "install", "-C", harness.BUILD,
             "--no-rebuild", "--quiet", "--destdir", dest])
    assert r.returncode == 0, r.stdout + r.stderr
    return dest


def installed_files(dest):
    found = set()
    for top, dirs, files in os.walk(dest):
        for name in files + [d for d in dirs
                             if os.path.islink(os.path.join(top, d))]:
            found.add("/" + os.path.relpath(os.path.join(top, name), dest))
    return found


def unit_lines(path, key):
    """The values of key= in a unit file, in order."""
    values = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            k, sep, v = line.strip().partition("=")
            if sep and k == key:
                values.append(v)
    return values


def test_install_puts_every_file_in_its_place(destdir, layout):
    want = layout.files()
    got = installed_files(destdir)
    missing = sorted(set(want) - got)
    extra = sorted(got - set(want))
    assert not missing and not extra, \
        "missing: %r; not expected: %r" % (missing, extra)

    for path, source in want.items():
        p = under(destdir, path)
        assert os.path.isfile(p) and not os.path.islink(p), path
        # Readable by all, writable by the owner alone; the programs
        # executable by all, nothing else executable.
        mode = os.stat(p).st_mode & 0o7777
        want_mode = 0o555 if path in layout.programs() else 0o444
        assert mode & 0o7555 == want_mode and not mode & 0o022, \
            "%s: mode %o" % (path, mode)
        if source:
            with open(p, "rb") as a, \
                    open(os.path.join(harness.SRC, source), "rb") as b:
                assert a.read() == b.read(), "%s differs from %s" % (
                    path, source)


def test_installed_programs_accept_the_example_files(destdir, layout,
                                                      tmp_path):
    # The example tree lists its principals with the installed wuzhactl.
    tree = under(destdir, os.path.join(layout.examples, "tree.yaml"))
    r = run([under(destdir, os.path.join(layout.bindir, "wuzhactl")),
             "tree", "principals", tree])
    assert r.returncode == 0, r.stderr
    assert re.search(r"^officer-li jn-police ", r.stdout, re.M), r.stdout

    # The example wuzhad.yaml, next to a pki/ made by wuzha-ca, passes
    # the installed wuzhad's check.
    conf = str(tmp_path / "wuzhad.yaml")
    shutil.copy(under(destdir, os.path.join(layout.examples, "wuzhad.yaml")),
                conf)
    pki = str(tmp_path / "pki")
    for argv in (["init", pki], ["server", pki, "wuzhad"]):
        r = run([harness.binary("wuzha-ca")] + argv)
        assert r.returncode == 0, r.stderr
    r = run([under(destdir, os.path.join(layout.sbindir, "wuzhad")),
             "--check-config", "-c", conf])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "%s: configuration OK\n" % conf


def test_installed_wuzhactl_finds_the_installed_templates(destdir, layout):
    ctl = under(destdir, os.path.join(layout.bindir, "wuzhactl"))
    # Its default is where the templates are installed ...
    with open(ctl, "rb") as f:
        assert (layout.templates + "\0").encode() in f.read()
    # ... and it reads them all there (here under the staging root).
    env = dict(os.environ,
               WUZHA_TEMPLATES=under(destdir, layout.templates))
    r = run([ctl, "templates"], env=env)
    assert r.returncode == 0, r.stderr
    names = [l.split()[0] for l in r.stdout.splitlines()[1:]]
    assert names == [t[:-len(".yaml")] for t in TEMPLATES], r.stdout


def test_units_name_the_installed_programs_and_files(destdir, layout):
    wuzhad = under(destdir, os.path.join(layout.unitdir, "wuzhad.service"))
    agent = under(destdir, os.path.join(layout.unitdir,
                                        "wuzha-agent@.service"))
    for path in (wuzhad, agent):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        assert not re.search(r"@[a-z]+dir@", text), path

    conf = os.path.join(layout.sysconfdir, "wuzha", "wuzhad.yaml")
    daemon = os.path.join(layout.sbindir, "wuzhad")
    assert unit_lines(wuzhad, "ExecStartPre") == ["%s -n -c %s"
                                                  % (daemon, conf)]
    assert unit_lines(wuzhad, "ExecStart") == ["%s -c %s" % (daemon, conf)]
    assert unit_lines(wuzhad, "Documentation") == ["man:wuzhad(8)"]

    # One of several daemons: its own file and name, options a drop-in
    # may add.
    inst = under(destdir, os.path.join(layout.unitdir, "wuzhad@.service"))
    with open(inst, encoding="utf-8") as f:
        assert not re.search(r"@[a-z]+dir@", f.read()), inst
    assert unit_lines(inst, "Environment") == [
        "WUZHAD_CONF=%s" % os.path.join(layout.sysconfdir, "wuzha",
                                        "wuzhad-%i.yaml"), "WUZHAD_OPTS="]
    assert unit_lines(inst, "ExecStartPre") == [
        "%s -n -N %%i -c ${WUZHAD_CONF} $WUZHAD_OPTS" % daemon]
    assert unit_lines(inst, "ExecStart") == [
        "%s -N %%i -c ${WUZHAD_CONF} $WUZHAD_OPTS" % daemon]

    conf = os.path.join(layout.sysconfdir, "wuzha", "agent-%i.yaml")
    assert unit_lines(agent, "ExecStart") == [
        "%s -c %s" % (os.path.join(layout.bindir, "wuzha-agent"), conf)]
    assert unit_lines(agent, "Documentation") == ["man:wuzha-agent(8)"]

    # The user unit, for an agent in a person's desktop session.
    user = under(destdir, os.path.join(layout.userunitdir,
                                       "wuzha-agent.service"))
    with open(user, encoding="utf-8") as f:
        assert not re.search(r"@[a-z]+dir@", f.read()), user
    assert unit_lines(user, "ExecStart") == [
        "%s -c %%E/wuzha/agent.yaml"
        % os.path.join(layout.bindir, "wuzha-agent")]
    assert unit_lines(user, "WantedBy") == ["default.target"]


def verify_root(dest, layout, root):
    """
    A copy of the install at root that `systemd-analyze verify --root`
    can load units from: the default dependencies of a service need
    sysinit.target, given here as an empty stub, and the commands the
    units name outside this package (/bin/kill) are copied from this host.
    """
    shutil.copytree(dest, root, symlinks=True)
    stubs = os.path.join(root, "etc", "systemd", "system")
    os.makedirs(stubs, exist_ok=True)
    with open(os.path.join(stubs, "sysinit.target"), "w",
              encoding="utf-8") as f:
        f.write("[Unit]\nDescription=stub for systemd-analyze verify\n")
    for unit in ("wuzhad.service", "wuzhad@.service",
                 "wuzha-agent@.service"):
        path = under(root, os.path.join(layout.unitdir, unit))
        for key in ("ExecStartPre", "ExecStart", "ExecReload", "ExecStop"):
            for value in unit_lines(path, key):
                cmd = value.lstrip("-@:+!").split()[0]
                if os.path.dirname(cmd) not in (layout.bindir,
                                                layout.sbindir) and \
                        os.path.isfile(cmd) and \
                        not os.path.exists(under(root, cmd)):
                    os.makedirs(os.path.dirname(under(root, cmd)),
                                exist_ok=True)
                    shutil.copy2(cmd, under(root, cmd))


def verify(root, layout, units):
    """
    systemd-analyze verify of units (names of units of layout.unitdir,
    or of instances of its templates) in the tree at root.  With
    --root, the programs a unit runs must exist in that tree; the man pages
    of Documentation= are looked up by man(1), which --root does not
    change, so MANPATH points it at the installed pages alone.  verify
    exits 0 on a misspelt directive or a bad value, which it only prints:
    the caller wants no output at all.
    """
    paths = [under(root, os.path.join(layout.unitdir, u)) for u in units]
    env = dict(os.environ, MANPATH=under(root, layout.mandir),
               SYSTEMD_LOG_COLOR="0")
    r = run([tool("systemd-analyze", "systemd"), "verify", "--man=yes",
             "--root=" + root] + paths, env=env)
    return r.returncode, (r.stdout + r.stderr).replace(root, "ROOT")


UNITS = ["wuzhad.service", "wuzhad@1.service", "wuzha-agent@demo.service"]


def test_systemd_analyze_verify_passes_on_every_unit(destdir, layout,
                                                     tmp_path):
    root = str(tmp_path / "root")
    verify_root(destdir, layout, root)
    rc, out = verify(root, layout, UNITS)
    print("systemd-analyze verify %s: exit %d, output %r"
          % (" ".join(UNITS), rc, out))
    assert rc == 0 and out == "", out


# What the check above must catch: (name, unit, change, what verify says).
BREAKAGE = [
    ("unknown-key", "wuzhad.service", ("RestartSec=", "RestatSec="),
     r"Unknown key"),
    ("bad-value", "wuzhad.service", ("Type=notify", "Type=notfy"),
     r"Failed to parse service type"),
    ("bad-value-agent", "wuzha-agent@.service",
     ("Restart=always", "Restart=allways"),
     r"Failed to parse service restart"),
    ("no-program", "wuzha-agent@.service",
     ("/wuzha-agent -c", "/wuzha-agnet -c"),
     r"wuzha-agnet is not executable"),
    ("no-man-page", "wuzhad.service", ("man:wuzhad(8)", "man:wuzhad(1)"),
     r"man wuzhad\(1\)"),
    ("bad-value-instance", "wuzhad@.service",
     ("Type=notify", "Type=notfy"), r"Failed to parse service type"),
    ("no-program-instance", "wuzhad@.service",
     ("/wuzhad -N %i", "/wuzhda -N %i"), r"wuzhda is not executable"),
]


@pytest.mark.parametrize("unit,change,says", [b[1:] for b in BREAKAGE],
                         ids=[b[0] for b in BREAKAGE])
def test_systemd_analyze_verify_fails_on_a_broken_unit(destdir, layout,
                                                       tmp_path, unit,
                                                       change, says):
    root = str(tmp_path / "root")
    verify_root(destdir, layout, root)
    path = under(root, os.path.join(layout.unitdir, unit))
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert change[0] in text
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace(change[0], change[1], 1))
    rc, out = verify(root, layout, UNITS)
    assert out != "" and re.search(says, out), (rc, out)


def test_sysusers_snippet_makes_the_wuzha_user(destdir, layout, tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    snippet = under(destdir, os.path.join(layout.sysusersdir, "wuzha.conf"))
    r = run([tool("systemd-sysusers", "systemd"), "--root=" + str(root),
             snippet])
    assert r.returncode == 0, r.stderr
    for line in (r.stdout + r.stderr).splitlines():
        assert line.startswith("Creating "), line
    passwd = (root / "etc" / "passwd").read_text(encoding="utf-8")
    assert re.search(r"^wuzha:x:\d+:\d+:[^:]*:/var/lib/wuzha:"
                     r"/usr/sbin/nologin$", passwd, re.M), passwd
    group = (root / "etc" / "group").read_text(encoding="utf-8")
    assert re.search(r"^wuzha:x:\d+:", group, re.M), group


@pytest.mark.parametrize("page", MAN_PAGES)
def test_man_page_renders_without_warnings(destdir, layout, page):
    path = under(destdir, os.path.join(layout.mandir, page))
    name = os.path.basename(page).rsplit(".", 1)[0]
    env = dict(os.environ, MANWIDTH=str(MANWIDTH), LC_ALL="C.UTF-8",
               MANPAGER="cat", PAGER="cat")
    env.pop("MANOPT", None)
    # man-db's man -l, with every groff warning on (troff -ww).
    r = run([tool("man", "man-db"), "--warnings=w", "-l", path], env=env)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert re.search(r"^NAME\n +%s " % re.escape(name), r.stdout, re.M), \
        r.stdout[:500]
    wide = [line for line in r.stdout.splitlines() if len(line) > MANWIDTH]
    assert not wide, "wider than %d columns: %r" % (MANWIDTH, wide)

    # mandoc's lint, which knows mdoc better than groff does (missing
    # list widths, bad escapes, blocks not closed ...); style hints, such
    # as "referenced manual not found", are not warnings.
    r = run([tool("mandoc", "mandoc"), "-T", "lint", "-W", "warning", path],
            env=env)
    assert r.returncode == 0 and r.stdout + r.stderr == "", \
        r.stdout + r.stderr
