#!/usr/bin/env bash
# The SDK as a vendor gets it: install the `sdk` component into an empty prefix, build
# sdk/examples/hello_adapter against it with find_package only (optionally with another
# compiler), check the plugin with casehub-plugin-check, and run it under casehubd.
#   out_of_tree.sh <casehub build dir> <casehub source dir> [c++ compiler]
set -euo pipefail
build=$1; src=$2; cxx=${3:-c++}
work=$(mktemp -d /tmp/casehub-sdk-XXXXXX)
trap 'kill $hub 2>/dev/null || true; rm -rf "$work"' EXIT
hub=

echo "== install the SDK into $work/prefix"
cmake --install "$build" --component sdk --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/casehub/plugin_abi.h"
test -f "$work/prefix/lib/cmake/casehub-sdk/casehub-sdkConfig.cmake"

echo "== build hello_adapter out of tree with $cxx"
cp -r "$src/sdk/examples/hello_adapter" "$work/hello"   # not even the source tree's path
cmake -S "$work/hello" -B "$work/hello/build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
      -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >/dev/null
cmake --build "$work/hello/build" >/dev/null
so="$work/hello/build/hello_adapter.so"
test -f "$so"
# Only the entry point is exported; the plugin needs nothing from the host at link time.
exports=$(nm -D --defined-only "$so" | awk '$2=="T"{print $3}')
[ "$exports" = "casehub_plugin_entry" ] || { echo "unexpected exports: $exports"; exit 1; }

echo "== casehub-plugin-check"
"$build/bin/casehub-plugin-check" "$so" --seconds 1 --set rate_per_minute=600

echo "== run it under casehubd"
mkdir -p "$work/hub"
cat > "$work/hub/hub.toml" <<TOML
[hub]
data_dir = "var"
reference_dir = "$src/config/qinhuai"
systems = ["hello"]
[supervisor]
heartbeat_ms = 200
[[adapters]]
id = "hello"
plugin = "$so"
[adapters.config]
rate_per_minute = 3000
TOML
"$build/bin/casehubd" --config "$work/hub/hub.toml" >"$work/hub/log" 2>&1 &
hub=$!
for _ in $(seq 1 100); do
  n=$("$build/bin/casehub" --config "$work/hub/hub.toml" status --json --timeout-ms 300 2>/dev/null |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["adapters"][0]["records_received"])' 2>/dev/null || echo 0)
  [ "$n" -gt 20 ] && break
  kill -0 $hub 2>/dev/null || { echo "casehubd died"; cat "$work/hub/log"; exit 1; }
  sleep 0.1
done
"$build/bin/casehub" --config "$work/hub/hub.toml" status
kill -TERM $hub; wait $hub; code=$?; hub=
[ "$code" -eq 0 ] || { echo "casehubd exited $code"; cat "$work/hub/log"; exit 1; }
[ "$n" -gt 20 ] || { echo "only $n records reached the store"; cat "$work/hub/log"; exit 1; }
rows=$(sqlite3 "$work/hub/var/casehub.db" "select count(*) from source_records where adapter='hello'")
echo "OK: $rows records from the out-of-tree plugin committed"
