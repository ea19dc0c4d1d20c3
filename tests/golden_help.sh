#!/usr/bin/env bash
# golden_help (unit): `aha --help` must print exactly tests/golden/help.txt (exit 0); a difference
# fails with a unified diff. After an intended change of the usage text, regenerate the file:
#   build/aha --help > tests/golden/help.txt
set -u
AHA=$1
here=$(cd "$(dirname "$0")" && pwd)
golden="$here/golden/help.txt"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$AHA" --help > "$out"
rc=$?
if [ $rc -ne 0 ]; then
    echo "FAIL: aha --help exited $rc"
    exit 1
fi
if ! diff -u "$golden" "$out"; then
    echo "FAIL: aha --help differs from $golden (- golden, + actual)"
    exit 1
fi
echo "ok: aha --help matches $golden"
