#!/bin/sh
# SPDX-License-Identifier: ISC
#
# Run one fuzzer for a bounded time on a copy of its seed corpus, in a
# temporary directory, so that the source tree is never written to.
#
#   run-fuzz.sh FUZZER CORPUS DICT|- [libFuzzer options...]
#
# Any crash, leak, timeout or failed check makes libFuzzer exit non-zero,
# and so this script; the input that did it is kept under
# ./fuzz-artifacts/ (the current directory: the build directory when run
# by meson test).
set -u

fuzzer=$1 corpus=$2 dict=$3
shift 3

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wuzha-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/corpus" "$tmp/artifacts"
cp -R "$corpus"/. "$tmp/corpus/" || exit 1
set -- -artifact_prefix="$tmp/artifacts/" "$@"
[ "$dict" != "-" ] && set -- -dict="$dict" "$@"

"$fuzzer" "$@" "$tmp/corpus"
rc=$?
if [ "$rc" -ne 0 ] && [ -n "$(ls "$tmp/artifacts")" ]; then
	mkdir -p fuzz-artifacts
	cp "$tmp/artifacts"/* fuzz-artifacts/
	echo "run-fuzz: exit $rc; inputs kept in $(pwd)/fuzz-artifacts:" >&2
	ls "$tmp/artifacts" >&2
fi
# libFuzzer's own exit code for a finding is 77, which meson takes for
# "skipped": report every failure as 1.
[ "$rc" -eq 0 ] || exit 1
exit 0
