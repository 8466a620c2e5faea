#!/usr/bin/env bash
# harnesses/selftest/check_triage.sh REPO - the ctest test fuzz_triage_selftest
# (label fuzz): scripts/fuzz finds, triages and reproduces the planted bug of the
# test-only target fuzz_selftest in both engines, resumes an AFL++ campaign, and
# deduplicates. It compiles its own small binaries of fuzz_selftest (libFuzzer,
# AFL++ persistent and fork server, ASan replay: one C file each, seconds) in a
# temporary folder, so it neither needs nor touches build/fuzz, build/afl,
# build/asan, build/fuzz-work or artifacts/.
#
# Checks (each can fail):
#   1 libFuzzer (fork mode, --keep-going): exit 2, exactly one FINDING line, kind
#     SEGV, top frame selftest_store_record, and its reproduce command exits 2
#     with the same report; summary.json lists the finding.
#   2 AFL++: the same, and the finding is the libFuzzer one (same folder: the hash
#     is engine-independent).
#   3 AFL++ again: the queue of run 2 is still there (every input), the run says
#     it resumed, and its executions are this run's: campaign - before.
#   4 --triage of 5 planted inputs of one bug and 2 of another: two findings,
#     x5 and x2 (the second an invariant failure in selftest_check_length);
#     triage again: the same two lines, counts unchanged.
#   5 campaign folders of another AFL++ version or target: exit 1, a message with
#     the path and --fresh, nothing touched; --fresh moves a folder aside; a
#     half-written fuzzer_stats is set aside and the queue resumed.
# Exit status: 0 pass, 1 could not run (a tool is missing), 2 a check failed.
set -euo pipefail
repo=$(cd "${1:?usage: check_triage.sh REPO}" && pwd)
for tool in clang afl-clang-fast afl-fuzz afl-tmin python3; do
  command -v "$tool" >/dev/null || { echo "check_triage: $tool not found (scripts/deps installs it)" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-triage.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() { echo "check_triage: FAIL: $*" >&2; exit 2; }
note() { echo "check_triage: [${SECONDS}s] $*" >&2; }
src=$repo/harnesses/selftest/fuzz_selftest.c
mkdir -p "$tmp/lf/harnesses" "$tmp/afl/harnesses" "$tmp/asan/harnesses"
san=("-fsanitize=address,undefined" -fno-sanitize-recover=all -fno-omit-frame-pointer)
# The project's warnings (CMakeLists.txt), so that this copy fails where the build would.
warn=(-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -std=c11 -D_GNU_SOURCE)
clang -g -O1 "${warn[@]}" "${san[@]}" -fsanitize=fuzzer "$src" -o "$tmp/lf/harnesses/fuzz_selftest"
AFL_QUIET=1 afl-clang-fast -g -O2 "${warn[@]}" "$src" "$repo/harnesses/afl_driver.c" \
  -o "$tmp/afl/harnesses/fuzz_selftest"
AFL_QUIET=1 afl-clang-fast -g -O2 "${warn[@]}" "$src" "$repo/harnesses/afl_forksrv_driver.c" \
  -o "$tmp/afl/harnesses/fuzz_selftest_forksrv"
clang -g -O1 "${warn[@]}" "${san[@]}" -I"$repo/testing" -I"$repo/core/base" "$src" \
  "$repo/harnesses/replay_main.c" "$repo/testing/hygiene.c" -o "$tmp/asan/harnesses/replay_fuzz_selftest"
note "compiled fuzz_selftest for libFuzzer, AFL++ and the ASan replay"

export IPC_FUZZ_NO_BUILD=1 IPC_REPRO_NO_BUILD=1 IPC_FUZZ_NICE=0
export IPC_FUZZ_BUILD_DIR=$tmp/lf IPC_AFL_BUILD_DIR=$tmp/afl IPC_REPRO_BUILD_DIR=$tmp/asan
export IPC_FUZZ_WORK=$tmp/work IPC_FUZZ_ARTIFACTS=$tmp/artifacts IPC_FUZZ_MINIMIZE_SECONDS=2

run_fuzz() { # log args...: scripts/fuzz's exit status in $rc, its output in log
  local log=$1
  shift
  rc=0
  "$repo/scripts/fuzz" --plain "$@" >"$log" 2>&1 || rc=$?
}
one_finding() { # log engine: the only FINDING line of log, checked; sets $line
  local log=$1 eng=$2 n
  n=$(grep -c '^scripts/fuzz: FINDING ' "$log" || true)
  [ "$n" = 1 ] || { cat "$log" >&2; fail "$eng: $n finding lines, want 1 (5 inputs of one bug are one finding)"; }
  line=$(grep '^scripts/fuzz: FINDING ' "$log")
  [[ "$line" == "scripts/fuzz: FINDING fuzz_selftest SEGV in selftest_store_record "* ]] ||
    fail "$eng: finding line without kind SEGV and frame selftest_store_record: $line"
}
check_repro() { # finding line: its reproduce command must reproduce the bug
  local cmd prc=0
  cmd=${1##* reproduce: }
  [[ "$cmd" =~ ^scripts/repro\ fuzz_selftest\ [^\ ]+$ ]] || fail "no reproduce command in: $1"
  # The printed command, run as printed from the repository (the environment above
  # points it at the test's replay binary).
  (cd "$repo" && eval "$cmd") >"$tmp/repro.log" 2>&1 || prc=$?
  [ "$prc" = 2 ] || { cat "$tmp/repro.log" >&2; fail "'$cmd' exited $prc, want 2 (reproduces)"; }
  if ! grep -q 'SEGV on unknown address' "$tmp/repro.log" || ! grep -q 'in selftest_store_record' "$tmp/repro.log"; then
    cat "$tmp/repro.log" >&2
    fail "'$cmd' did not print the SEGV report in selftest_store_record"
  fi
}

# ---- 1: libFuzzer -------------------------------------------------------------
run_fuzz "$tmp/lf.log" --engine libfuzzer --keep-going --seconds 2 fuzz_selftest
[ "$rc" = 2 ] || { cat "$tmp/lf.log" >&2; fail "libFuzzer run exited $rc, want 2 (a finding)"; }
one_finding "$tmp/lf.log" libFuzzer
lf_line=$line
check_repro "$lf_line"
python3 - "$tmp/work/summary.json" <<'PY' || fail "summary.json does not list the libFuzzer finding"
import json, sys
doc = json.load(open(sys.argv[1]))
t = [e for e in doc["targets"] if e["engine"] == "libfuzzer" and e["target"] == "fuzz_selftest"]
assert doc["schema"] == 1 and len(t) == 1 and t[0]["execs"] > 0, doc
f = t[0]["findings"]
assert len(f) == 1 and f[0]["kind"] == "SEGV" and f[0]["top_frame"] == "selftest_store_record", f
assert f[0]["count"] >= 1 and f[0]["reproduce"].startswith("scripts/repro fuzz_selftest "), f
PY
note "libFuzzer: ${lf_line#scripts/fuzz: }"

# ---- 2: AFL++ -----------------------------------------------------------------
run_fuzz "$tmp/afl1.log" --engine afl --seconds 3 fuzz_selftest
[ "$rc" = 2 ] || { cat "$tmp/afl1.log" >&2; fail "AFL++ run exited $rc, want 2 (a finding)"; }
one_finding "$tmp/afl1.log" AFL++
afl_line=$line
check_repro "$afl_line"
dir_of() { local s=${1%%/ reproduce:*}; echo "${s##* }"; }
[ "$(dir_of "$afl_line")" = "$(dir_of "$lf_line")" ] ||
  fail "the engines' findings of one bug are in two folders: $(dir_of "$lf_line") and $(dir_of "$afl_line")"
note "AFL++: ${afl_line#scripts/fuzz: }"

# Minimized by each engine's tool: libFuzzer's in the folder of run 1; AFL++'s
# crashes triaged again as AFL++ findings into a folder of their own.
minimized_by() { # folder tool
  python3 - "$1" "$2" <<'PY' || fail "$1 was not minimized by $2"
import json, os, sys
d, tool = sys.argv[1], sys.argv[2]
meta = json.load(open(os.path.join(d, "finding.json")))
note = meta["minimize"]
small, big = os.path.getsize(os.path.join(d, "minimized")), os.path.getsize(os.path.join(d, "input"))
assert note.startswith("minimized by " + tool) and small <= big, (note, small, big)
print(f"check_triage: {tool}: {note}", file=sys.stderr)
PY
}
minimized_by "$tmp/artifacts/fuzz_selftest/$(basename "$(dir_of "$lf_line")")" "libFuzzer"
IPC_FUZZ_ARTIFACTS=$tmp/artifacts-afl IPC_FUZZ_TRIAGE_ENGINE=afl \
  run_fuzz "$tmp/afl-triage.log" --triage fuzz_selftest "$tmp/work/afl/fuzz_selftest/main/crashes"
[ "$rc" = 2 ] || { cat "$tmp/afl-triage.log" >&2; fail "--triage of the AFL++ crashes exited $rc, want 2"; }
one_finding "$tmp/afl-triage.log" "AFL++ --triage"
[ "$(basename "$(dir_of "$line")")" = "$(basename "$(dir_of "$lf_line")")" ] ||
  fail "AFL++'s crashes triaged alone give another bug hash: $line"
minimized_by "$tmp/artifacts-afl/fuzz_selftest/$(basename "$(dir_of "$line")")" "afl-tmin"
note "minimized by both engines' tools"

# ---- 3: AFL++ resumes -----------------------------------------------------------
main=$tmp/work/afl/fuzz_selftest/main
# By content: AFL++ renumbers the entries it re-imports (in reverse order) on resume.
queue_hashes() { find "$main/queue" -maxdepth 1 -type f -name 'id:*' -exec sha1sum {} + | cut -c1-40 | sort -u; }
queue_hashes >"$tmp/queue1"
[ -s "$tmp/queue1" ] || fail "AFL++ run 1 left no queue in $main/queue"
before=$(awk -F' *: ' '$1 == "execs_done" {print $2}' "$main/fuzzer_stats")
run_fuzz "$tmp/afl2.log" --engine afl --seconds 2 fuzz_selftest
[ "$rc" = 0 ] || [ "$rc" = 2 ] || { cat "$tmp/afl2.log" >&2; fail "AFL++ run 2 exited $rc"; }
grep -q 'main: resume (queue kept' "$tmp/afl2.log" || { cat "$tmp/afl2.log" >&2; fail "AFL++ run 2 did not resume"; }
grep -q "executions in this run (run 2 of the campaign: " "$tmp/afl2.log" ||
  { cat "$tmp/afl2.log" >&2; fail "AFL++ run 2 did not print its own and the campaign's executions"; }
queue_hashes >"$tmp/queue2"
missing=$(comm -23 "$tmp/queue1" "$tmp/queue2" | wc -l)
[ "$missing" = 0 ] || fail "$missing queue inputs of run 1 are gone after run 2"
python3 - "$tmp/work/afl/fuzz_selftest/stats.json" "$before" <<'PY' || fail "AFL++ run 2 did not count its own executions only"
import json, sys
st = json.load(open(sys.argv[1]))
before = int(sys.argv[2])
m = st["instances"]["main"]
assert st["resumed"] == 1 and m["execs_before"] == before > 0, (st, before)
assert m["execs"] == m["campaign_execs"] - before and 0 < st["execs"] == m["execs"], st
assert st["run"] == 2 and st["campaign_execs"] == m["campaign_execs"], st
print(f"check_triage: AFL++ resume: run 1 {before} execs, run 2 {m['execs']} execs "
      f"({st['exec_per_sec']} exec/s), campaign {m['campaign_execs']}", file=sys.stderr)
PY

# ---- 4: dedupe and re-triage ------------------------------------------------------
mkdir -p "$tmp/planted"
for i in 1 2 3 4 5; do printf 'BUG%s' "$i" >"$tmp/planted/segv-$i"; done
for i in 1 2; do
  { printf 'INV!'; head -c 300000 /dev/zero | tr '\0' "$i"; } >"$tmp/planted/inv-$i"
done
export IPC_FUZZ_ARTIFACTS=$tmp/artifacts2
for pass in 1 2; do
  run_fuzz "$tmp/triage$pass.log" --triage fuzz_selftest "$tmp/planted"
  [ "$rc" = 2 ] || { cat "$tmp/triage$pass.log" >&2; fail "--triage pass $pass exited $rc, want 2"; }
  n=$(grep -c '^scripts/fuzz: FINDING ' "$tmp/triage$pass.log" || true)
  if [ "$n" != 2 ] ||
     ! grep -q '^scripts/fuzz: FINDING fuzz_selftest SEGV in selftest_store_record .* x5 ' "$tmp/triage$pass.log" ||
     ! grep -q '^scripts/fuzz: FINDING fuzz_selftest invariant in selftest_check_length .* x2 ' "$tmp/triage$pass.log"; then
    cat "$tmp/triage$pass.log" >&2
    fail "--triage pass $pass: want SEGV x5 and invariant x2 only"
  fi
done
folders=$(find "$tmp/artifacts2/fuzz_selftest" -mindepth 1 -maxdepth 1 -type d | wc -l)
[ "$folders" = 2 ] || fail "$folders finding folders after two triage passes, want 2"
grep -q '\[known\]' "$tmp/triage2.log" || fail "triage pass 2 did not recognize its findings as known"
note "dedupe: 7 planted inputs -> 2 findings (x5, x2), unchanged by a second triage"

# ---- 5: campaign folders it must not resume ------------------------------------------
# Copies of the AFL++ campaign: another version's, another target's (refused with the
# path, nothing changed), a half-written fuzzer_stats (set aside, resumed), --fresh
# (moved aside, not deleted).
bad_campaign() { # name sed-expression-on-fuzzer_stats expected-message
  local w=$tmp/bad-$1 before after
  mkdir -p "$w/afl"
  cp -a "$tmp/work/afl/fuzz_selftest" "$w/afl/"
  sed -i "$2" "$w/afl/fuzz_selftest/main/fuzzer_stats"
  before=$(find "$w/afl/fuzz_selftest" -exec stat -c '%n %s %Y' {} + | sort)
  IPC_FUZZ_WORK=$w run_fuzz "$tmp/bad-$1.log" --engine afl --seconds 1 fuzz_selftest
  after=$(find "$w/afl/fuzz_selftest" -exec stat -c '%n %s %Y' {} + | sort)
  [ "$rc" = 1 ] || { cat "$tmp/bad-$1.log" >&2; fail "$1 campaign: exit $rc, want 1"; }
  if ! grep -q "cannot resume: $w/afl/fuzz_selftest/main .*$3" "$tmp/bad-$1.log" ||
     ! grep -q -- "--fresh" "$tmp/bad-$1.log"; then
    cat "$tmp/bad-$1.log" >&2
    fail "$1 campaign: no clear message"
  fi
  [ "$before" = "$after" ] || fail "$1 campaign: files changed although the run was refused"
}
bad_campaign version 's/^afl_version .*/afl_version       : ++9.99z/' "AFL++ 9.99z, this is AFL++"
bad_campaign target 's|^command_line .*|command_line      : afl-fuzz -o x -- /b/harnesses/resp_parse|' "another target"
w=$tmp/bad-version
IPC_FUZZ_WORK=$w run_fuzz "$tmp/fresh.log" --engine afl --seconds 1 --fresh fuzz_selftest
[ "$rc" = 0 ] || [ "$rc" = 2 ] || { cat "$tmp/fresh.log" >&2; fail "--fresh run exited $rc"; }
aside=$(find "$w/afl" -maxdepth 1 -name 'fuzz_selftest.old-*' | head -n 1)
if [ -z "$aside" ] || [ ! -d "$aside/main/queue" ]; then
  fail "--fresh did not keep the old campaign as fuzz_selftest.old-*"
fi
w=$tmp/bad-half
mkdir -p "$w/afl"
cp -a "$tmp/work/afl/fuzz_selftest" "$w/afl/"
head -c 20 "$tmp/work/afl/fuzz_selftest/main/fuzzer_stats" >"$w/afl/fuzz_selftest/main/fuzzer_stats"
IPC_FUZZ_WORK=$w run_fuzz "$tmp/half.log" --engine afl --seconds 1 fuzz_selftest
[ "$rc" = 0 ] || [ "$rc" = 2 ] || { cat "$tmp/half.log" >&2; fail "half-written fuzzer_stats: exit $rc"; }
if ! grep -q "was half-written (a stopped run); moved to" "$tmp/half.log" ||
   ! grep -q 'main: resume' "$tmp/half.log"; then
  cat "$tmp/half.log" >&2
  fail "half-written fuzzer_stats: not set aside and resumed"
fi
damaged=("$w/afl/fuzz_selftest/main/fuzzer_stats.damaged-"*)
[ -f "${damaged[0]}" ] || fail "the half-written fuzzer_stats is gone"
note "bad campaign folders: other version, other target refused untouched; --fresh and a half-written fuzzer_stats handled"
note "PASS"
