#!/bin/bash -eu
# .clusterfuzzlite/build.sh - builds every fuzz target the OSS-Fuzz way.
#
# The contract (https://google.github.io/oss-fuzz/getting-started/new-project-guide/):
# compile with $CC $CFLAGS, link with $CXX $CXXFLAGS $LIB_FUZZING_ENGINE, put each
# target in $OUT with <target>_seed_corpus.zip, <target>.dict and <target>.options.
# The same commands serve every engine and sanitizer OSS-Fuzz and ClusterFuzzLite
# ask for: with FUZZING_ENGINE=afl, $CC is afl-clang-fast and $LIB_FUZZING_ENGINE
# AFL++'s libAFLDriver.a; SANITIZER=memory, undefined, coverage only change
# $CFLAGS. oss-fuzz/projects/ipcstorm/build.sh runs this script; scripts/check-cflite
# runs it for every engine/sanitizer pair with base-builder's environment.
# No CMake here: the project needs CMake 3.25, which not every base-builder image
# has, and libipc is just core/src/*.c and the server layer server/src/*.c (the
# same globs and include paths as the CMake targets ipc and ipcserver).
#
# Per-target libFuzzer options come from a line in the target's source:
#   // libfuzzer-options: max_len=65536 handle_usr1=0
# and are written to <target>.options with the dictionary.

: "${SRC:?}" "${OUT:?}" "${WORK:?}" "${CC:?}" "${CXX:?}" "${LIB_FUZZING_ENGINE:?}"
CFLAGS=${CFLAGS:-}
CXXFLAGS=${CXXFLAGS:-$CFLAGS}

repo=${IPC_SRC_DIR:-$SRC/ipcstorm}
cd "$repo"

obj=$WORK/ipcstorm-obj
rm -rf "$obj"
mkdir -p "$obj" "$OUT"

# IPC_FAULTS: the fault-injection seam, driven by each target's input (as the
# CMake fuzz and afl presets build it).
common=(-std=c11 -D_GNU_SOURCE -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -DIPC_FAULTS=1
        -Icore/include -Icore/base -Iserver/include)

# libipc (with its private core/src) and the server layer
lib_objs=()
for src in core/src/*.c server/src/*.c; do
  o=$obj/lib_$(basename "${src%.c}").o
  private=()
  case "$src" in core/*) private=(-Icore/src) ;; esac
  # shellcheck disable=SC2086
  $CC $CFLAGS "${common[@]}" "${private[@]}" -c "$src" -o "$o"
  lib_objs+=("$o")
done
ar rcs "$obj/libipc.a" "${lib_objs[@]}"

# targets: every harnesses/*.c that defines LLVMFuzzerTestOneInput, except the
# drivers (replay main, AFL++ drivers), which have their own main.
built=0
for src in harnesses/*.c; do
  name=$(basename "${src%.c}")
  case "$name" in replay_main|afl_driver|afl_forksrv_driver) continue ;; esac
  grep -q 'LLVMFuzzerTestOneInput' "$src" || continue
  # shellcheck disable=SC2086
  $CC $CFLAGS "${common[@]}" -Iharnesses -c "$src" -o "$obj/$name.o"
  # shellcheck disable=SC2086
  $CXX $CXXFLAGS "$obj/$name.o" -o "$OUT/$name" $LIB_FUZZING_ENGINE "$obj/libipc.a" -lpthread -lrt

  if [ -d "corpus/$name" ] && [ -n "$(ls -A "corpus/$name")" ]; then
    rm -f "$OUT/${name}_seed_corpus.zip"
    (cd "corpus/$name" && zip -q -X -j "$OUT/${name}_seed_corpus.zip" ./*)
  fi
  opts=()
  if [ -f "corpus/$name.dict" ]; then
    cp "corpus/$name.dict" "$OUT/$name.dict"
    opts+=("dict = $name.dict")
  fi
  line=$(sed -n 's|^// libfuzzer-options:[[:space:]]*||p' "$src" | head -1)
  for kv in $line; do
    opts+=("${kv%%=*} = ${kv#*=}")
  done
  {
    echo "[libfuzzer]"
    for o in "${opts[@]}"; do echo "$o"; done
  } > "$OUT/$name.options"
  built=$((built + 1))
done
echo "build.sh: $built fuzz targets in $OUT"
[ "$built" -gt 0 ]
