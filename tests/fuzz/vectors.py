#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
# Turn the test vectors of proto/PROTOCOL.md (section 8) into seed files:
# frames go to the fuzz-frame corpus (one file each, plus one file with
# all valid frames one after another), envelopes to the fuzz-envelope
# corpus, bodies to fuzz-frame (which also tries its input as a body).
#
#   vectors.py PROTOCOL.md CORPUS_DIR
import os
import re
import sys

doc, out = sys.argv[1], sys.argv[2]
text = open(doc, encoding='utf-8').read()
blocks = re.findall(r'^```(vector(?:-bad)?) ([^\n]*)\n(.*?)^```', text,
                    re.S | re.M)
stream = b''
for kind, info, body in blocks:
    attrs = dict(kv.split('=', 1) for kv in info.split())
    data = bytes.fromhex(' '.join(line.split('#', 1)[0]
                                  for line in body.splitlines()))
    name = attrs['name']
    if attrs['type'] == 'envelope':
        dirs = ['fuzz-envelope']
    elif attrs['type'] == 'body':
        dirs = ['fuzz-frame']
    else:
        dirs = ['fuzz-frame']
        if kind == 'vector':
            stream += data
    for d in dirs:
        with open(os.path.join(out, d, 'vec-' + name), 'wb') as f:
            f.write(data)
with open(os.path.join(out, 'fuzz-frame', 'vec-all-valid-frames'), 'wb') as f:
    f.write(stream)
