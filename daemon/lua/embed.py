#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""
Embed the Redis scripts (daemon/lua/NAME.lua) into wuzhad at build time.

    embed.py OUT.c OUT.h NAME.lua...

Each script may say, in lines of its own:

    --#include FILE.lua   the text of FILE.lua (from the same folder) here
    --@arg NAME           the next fixed argument: ARGV[1], ARGV[2], ...

ARG.NAME in the script stands for that ARGV[n], and ARGS for the count of
fixed arguments, so the positions are written once: OUT.h gives C the same
names, LUA_<SCRIPT>_<NAME> (0-based, the index into the argv array that
store_eval takes) and LUA_<SCRIPT>_ARGS.  OUT.c holds lua_scripts[] and
lua_names[], indexed by STORE_LUA_<SCRIPT> of wuzhad.h; a script without
its enum constant, or one named twice, fails the C build.
"""

import os
import re
import sys


def c_string(text):
    out = []
    for line in text.splitlines(True):
        esc = line.replace("\\", "\\\\").replace('"', '\\"')
        esc = esc.replace("\n", "\\n").replace("\t", "\\t")
        out.append('"%s"' % esc)
    return "\n".join(out) or '""'


def load(path, seen=()):
    """The script's text with includes done, and its @arg names."""
    here = os.path.dirname(path)
    text, args = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = re.match(r"--#include\s+(\S+)\s*$", line)
            if m:
                inc = os.path.join(here, m.group(1))
                if inc in seen:
                    sys.exit("%s:%d: %s included twice" % (path, n, inc))
                t, a = load(inc, seen + (inc,))
                if a:
                    sys.exit("%s: an included file takes no @arg" % inc)
                text.append(t)
                continue
            m = re.match(r"--@arg\s+([a-z][a-z0-9_]*)\s*$", line)
            if m:
                if m.group(1) in args:
                    sys.exit("%s:%d: @arg %s twice" % (path, n, m.group(1)))
                args.append(m.group(1))
                continue
            text.append(line)
    return "".join(text), args


def main():
    out_c, out_h, scripts = sys.argv[1], sys.argv[2], sys.argv[3:]
    c = ["/* Made by daemon/lua/embed.py from the scripts in daemon/lua. */",
         '#include "wuzhad.h"', ""]
    h = ["/* Made by daemon/lua/embed.py from the scripts in daemon/lua. */",
         "#ifndef WUZHA_LUA_GEN_H", "#define WUZHA_LUA_GEN_H", ""]
    names = []
    for path in scripts:
        name = os.path.basename(path)[:-len(".lua")]
        text, args = load(path)
        up = name.upper()

        def arg(m, path=path, args=args):
            if m.group(1) not in args:
                sys.exit("%s: ARG.%s is not an @arg" % (path, m.group(1)))
            return "ARGV[%d]" % (args.index(m.group(1)) + 1)
        text = re.sub(r"\bARG\.([a-z][a-z0-9_]*)", arg, text)
        text = re.sub(r"\bARGS\b", str(len(args)), text)
        if args:
            h.append("enum {")
            for i, a in enumerate(args):
                h.append("\tLUA_%s_%s = %d," % (up, a.upper(), i))
            h.append("\tLUA_%s_ARGS = %d" % (up, len(args)))
            h.append("};")
            h.append("")
        c.append("static const char lua_%s[] =\n%s;\n" % (name, c_string(text)))
        names.append(name)
    c.append("const char *const lua_scripts[STORE_LUA_COUNT] = {")
    c += ["\t[STORE_LUA_%s] = lua_%s," % (n.upper(), n) for n in names]
    c.append("};\n")
    c.append("const char *const lua_names[STORE_LUA_COUNT] = {")
    c += ['\t[STORE_LUA_%s] = "%s",' % (n.upper(), n) for n in names]
    c.append("};")
    h.append("#endif")
    with open(out_c, "w", encoding="utf-8") as f:
        f.write("\n".join(c) + "\n")
    with open(out_h, "w", encoding="utf-8") as f:
        f.write("\n".join(h) + "\n")


if __name__ == "__main__":
    main()
