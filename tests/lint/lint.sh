#!/usr/bin/env bash
# tests/lint/lint.sh - fails when a tracked shell script has a shellcheck finding or
# a tracked C file differs from what clang-format (the repo's .clang-format) makes
# of it. Usage: tests/lint/lint.sh REPO_DIR
set -euo pipefail
repo=${1:?usage: lint.sh REPO_DIR}
cd "$repo"

for tool in shellcheck clang-format; do
  command -v "$tool" >/dev/null || { echo "lint: $tool not found (scripts/deps installs it)" >&2; exit 1; }
done

# Shell scripts are the tracked files whose first line names sh or bash.
scripts=()
while IFS= read -r f; do
  case "$f" in corpus/*) continue ;; esac
  if [ -f "$f" ] && head -n 1 "$f" | grep -qE '^#!.*\b(ba)?sh\b'; then
    scripts+=("$f")
  fi
done < <(git ls-files)

sources=()
while IFS= read -r f; do
  [ -f "$f" ] && sources+=("$f")
done < <(git ls-files '*.c' '*.h')

status=0
if ! shellcheck "${scripts[@]}"; then
  echo "lint: shellcheck found problems" >&2
  status=1
fi
if ! clang-format --dry-run --Werror "${sources[@]}"; then
  echo "lint: run clang-format -i on the files above" >&2
  status=1
fi
[ "$status" -eq 0 ] && echo "lint: ${#scripts[@]} shell scripts shellcheck-clean, ${#sources[@]} C files clang-format-clean"
exit "$status"
