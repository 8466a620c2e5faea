#!/bin/bash -eu
# OSS-Fuzz build script of ipcstorm: the project's own ClusterFuzzLite build
# script does the work, so OSS-Fuzz and ClusterFuzzLite build the same targets
# with the same flags, seed corpora, dictionaries and .options files, for every
# engine ($LIB_FUZZING_ENGINE: libFuzzer, or AFL++'s driver with afl-clang-fast)
# and sanitizer OSS-Fuzz asks for.
exec bash -eu "$SRC/ipcstorm/.clusterfuzzlite/build.sh"
