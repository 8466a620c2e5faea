#!/usr/bin/env bash
# selftest.sh INVARIANT CMD... - runs a stress driver with a planted fault and
# passes only if the driver caught it: exit status exactly 2 (not a crash, not a
# setup error) and a "VIOLATION INVARIANT:" line naming the expected invariant
# with a reproduce command.
# Exit status: 0 the fault was caught, 2 it was not (the self-test failed), 64
# usage error.
set -u
[ $# -ge 2 ] || { echo "usage: selftest.sh INVARIANT CMD..." >&2; exit 64; }
inv="$1"; shift
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out" | head -n 20
if [ "$rc" -ne 2 ]; then
  echo "selftest: expected exit status 2 (violation), got $rc" >&2
  exit 2
fi
if ! printf '%s\n' "$out" | grep -Eq "^VIOLATION ${inv}: .*reproduce: .* --seed [0-9]+"; then
  echo "selftest: no 'VIOLATION ${inv}: ... reproduce: ... --seed N' line" >&2
  exit 2
fi
echo "selftest: the driver caught the planted fault (invariant ${inv}, exit 2)"
exit 0
