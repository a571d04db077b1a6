#!/usr/bin/env bash
# The whole test suite, as README.md and .ci/run give it: real servers for every backend
# (installed if missing), a build (the CLI tests spawn the built binary), the type check
# and lint of the whole tree, every vitest
# project on this Node, then the core, kit and embedded-driver tests on Node 22 and 24.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache

bash test-matrix/install-servers.sh || exit 1
pnpm run build || exit 1
pnpm run typecheck || exit 1
pnpm run lint || exit 1

vitest_rc=0
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=.cache/vitest-report.json "$@" || vitest_rc=$?
node .ci/summary.mjs .cache/vitest-report.json || vitest_rc=1

matrix_rc=0
if [ $# -eq 0 ] && [ -f test-matrix/node-matrix.sh ]; then
  bash test-matrix/node-matrix.sh || matrix_rc=$?
fi
[ "$vitest_rc" -eq 0 ] && [ "$matrix_rc" -eq 0 ]
