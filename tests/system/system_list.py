#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""
Check that the system tests meson runs are the system tests there are:
every tests/system/NN-*.py is named by a test() in a meson.build, and
every name given has its file.  A test file left out of the table would
otherwise never run, and nothing would say so.

    system_list.py DIR NAME...

DIR is tests/system; each NAME is a test as meson.build declares it
(file name without .py).  Exit 0 if the two agree; else 1, each file
missing from the table and each name without a file said on stderr.
"""

import os
import re
import sys

TEST_FILE = re.compile(r'^[0-9][0-9]-.*\.py$')


def main(argv):
    if len(argv) < 2:
        sys.stderr.write('usage: system_list.py DIR NAME...\n')
        return 2
    folder, names = argv[1], argv[2:]
    files = sorted(f[:-3] for f in os.listdir(folder) if TEST_FILE.match(f))
    declared = set(names)
    bad = 0
    for f in files:
        if f not in declared:
            sys.stderr.write('%s.py is in tests/system but not in the '
                             'system_tests table of '
                             'tests/system/meson.build: it would never '
                             'run; add it there\n' % f)
            bad = 1
    for n in sorted(declared - set(files)):
        sys.stderr.write("system_tests in tests/system/meson.build names "
                         "'%s', but there is no tests/system/%s.py\n"
                         % (n, n))
        bad = 1
    if len(names) != len(declared):
        sys.stderr.write('a system test is declared twice\n')
        bad = 1
    return bad


if __name__ == '__main__':
    sys.exit(main(sys.argv))
