#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then builds consumer.c against
# it twice: with pkg-config and with CMake's find_package(ipcstorm).
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(ls -d "$tmp"/prefix/lib*/pkgconfig | head -1)
export PKG_CONFIG_PATH=$libdir
# shellcheck disable=SC2086,SC2046
${CC:-cc} $CFLAGS -o "$tmp/consumer_pc" "$src/consumer.c" \
  $(pkg-config --cflags libipc) $LDFLAGS $(pkg-config --libs --static libipc)
# The pkg-config build links the shared library; find_package links the static one.
LD_LIBRARY_PATH="$(dirname "$libdir")" "$tmp/consumer_pc"
cmake -S "$src" -B "$tmp/cm" -G Ninja -DCMAKE_C_COMPILER="${CC:-cc}" \
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS" \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm" >/dev/null
"$tmp/cm/consumer"
echo "install_consumer: pkg-config and find_package consumers built and ran"
