#!/usr/bin/env bash
# `pnpm test`, the README's test command: real servers for every backend (installed if missing),
# a build (the CLI tests spawn the built binary), the type check and lint of the whole tree, then
# every vitest project on the workspace Node. Other Node versions: `pnpm test:node-matrix`.
# Arguments go to vitest (`pnpm test --project @baton-lock/redis`).
# Ends with one line, `Tests: N passed, N failed, N skipped`.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
started=$SECONDS

bash test-matrix/install-servers.sh || exit 1
pnpm run build || exit 1
pnpm run typecheck || exit 1
pnpm run lint || exit 1
checks_s=$((SECONDS - started))

rm -f .cache/vitest-report.json
vitest_rc=0
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=.cache/vitest-report.json "$@" || vitest_rc=$?
echo "test: servers, build, typecheck and lint $checks_s s; vitest $((SECONDS - started - checks_s)) s; total $((SECONDS - started)) s" >&2
node .ci/summary.mjs .cache/vitest-report.json || vitest_rc=1
exit "$vitest_rc"
