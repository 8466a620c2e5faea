#!/usr/bin/env bash
# tests/install/check.sh BUILD_DIR SRC_DIR - the project as other projects see it:
#  1. the build tree installed into a temporary prefix; consumer.c built against it
#     with pkg-config (shared library) and with find_package(ipcstorm) (static); a
#     build with the fault seam (IPC_FAULTS) says so in the .pc file and the
#     CMake package, and installs ipc/faults.h;
#  2. a plain `cmake` build (no options) configured for /usr, installed into a
#     DESTDIR: Debian's multiarch layout, a .pc file whose paths resolve inside the
#     staging tree, no server headers, no test-fault hooks and no fault seam
#     (symbols, ipc/faults.h) installed, and the .pc file saying faults=off;
#  3. the project pulled in with add_subdirectory by another CMake project that
#     cannot find cmocka: it configures, and builds and runs the consumer.
set -euo pipefail
build=$1 src=$2
repo=$(cd "$src/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install_consumer: $*" >&2; exit 1; }

# 1. build tree -> temporary prefix
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pcdir=$(find "$tmp/prefix" -type d -name pkgconfig | head -n 1)
export PKG_CONFIG_PATH=$pcdir
# shellcheck disable=SC2086,SC2046
${CC:-cc} $CFLAGS -o "$tmp/consumer_pc" "$src/consumer.c" \
  $(pkg-config --cflags libipc) $LDFLAGS $(pkg-config --libs --static libipc)
LD_LIBRARY_PATH="$(dirname "$pcdir")" "$tmp/consumer_pc"
cmake -S "$src" -B "$tmp/cm" -G Ninja -DCMAKE_C_COMPILER="${CC:-cc}" \
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS" \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm" >/dev/null
"$tmp/cm/consumer"
[ ! -e "$tmp/prefix/include/ipcsrv" ] || fail "server headers were installed"
for h in conn.h server.h ctab.h; do
  [ ! -e "$tmp/prefix/include/ipc/$h" ] || fail "include/ipc/$h was installed"
done
if grep -q '^IPC_FAULTS:BOOL=ON' "$build/CMakeCache.txt"; then
  [ "$(pkg-config --variable=faults libipc)" = on ] || fail "a fault build's .pc file does not say faults=on"
  pkg-config --cflags libipc | grep -q -- '-DIPC_FAULTS=1' || fail "a fault build's .pc Cflags lack -DIPC_FAULTS=1"
  grep -rq 'set(ipcstorm_FAULTS ON)' "$tmp/prefix" || fail "a fault build's CMake package does not set ipcstorm_FAULTS"
  [ -e "$tmp/prefix/include/ipc/faults.h" ] || fail "a fault build did not install ipc/faults.h"
fi

# 2. plain cmake, /usr, DESTDIR
cmake -S "$repo" -B "$tmp/usr-build" -G Ninja -DCMAKE_INSTALL_PREFIX=/usr \
  -DCMAKE_C_COMPILER="${CC:-cc}" -DCMAKE_C_FLAGS="$CFLAGS" \
  -DCMAKE_SHARED_LINKER_FLAGS="$LDFLAGS" -DBUILD_TESTING=OFF >/dev/null
cmake --build "$tmp/usr-build" --target ipc ipc_shared >/dev/null
DESTDIR="$tmp/root" cmake --install "$tmp/usr-build" --component libipc >/dev/null
pc=$(find "$tmp/root/usr" -name libipc.pc)
[ -n "$pc" ] || fail "no libipc.pc under DESTDIR/usr"
incdir=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=includedir libipc)
libdir=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=libdir libipc)
[ "$(realpath -m "$incdir")" = "$tmp/root/usr/include" ] || fail "includedir is '$incdir'"
[ -e "$incdir/ipc/ipc.h" ] || fail "no ipc/ipc.h in includedir '$incdir'"
[ "$(realpath -m "$libdir")" = "$(dirname "$(dirname "$pc")")" ] ||
  fail "libdir is '$libdir', not the directory above the .pc file"
[ -e "$libdir/libipc.so" ] || fail "no libipc.so in libdir '$libdir'"
if nm -D --defined-only "$libdir/libipc.so" | grep -Eq "_fault_|ipc_faults_|ipc__fault"; then
  fail "a plain build exports test-fault hooks or the fault seam"
fi
[ ! -e "$incdir/ipc/faults.h" ] || fail "a plain build installed ipc/faults.h"
[ "$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=faults libipc)" = off ] ||
  fail "a plain build's .pc file does not say faults=off"

# 3. add_subdirectory without cmocka: find_path/find_library see an empty root.
mkdir -p "$tmp/super"
cp "$src/consumer.c" "$tmp/super/"
cat >"$tmp/super/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(super LANGUAGES C)
add_subdirectory("$repo" ipcstorm)
add_executable(consumer consumer.c)
target_link_libraries(consumer PRIVATE ipcstorm::ipc)
CMAKE
cmake -S "$tmp/super" -B "$tmp/super/build" -G Ninja -DCMAKE_C_COMPILER="${CC:-cc}" \
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS" \
  -DCMAKE_FIND_ROOT_PATH="$tmp/empty-root" -DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY \
  -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY >/dev/null
cmake --build "$tmp/super/build" --target consumer >/dev/null
"$tmp/super/build/consumer"
echo "install_consumer: pkg-config, find_package, /usr DESTDIR layout and add_subdirectory all work"
