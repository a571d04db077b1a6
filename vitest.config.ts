import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// Tests run against the TypeScript sources of every workspace package, so no build is
// needed between an edit and a test run. Only the CLI tests spawn the built binary.
const src = (path: string) => fileURLToPath(new URL(path, import.meta.url))
const alias = [
  { find: /^@baton-lock\/core$/, replacement: src('./packages/core/src/index.ts') },
  {
    find: /^@baton-lock\/core\/driver$/,
    replacement: src('./packages/core/src/driver-kit/index.ts'),
  },
  {
    find: /^@baton-lock\/core\/conformance$/,
    replacement: src('./packages/core/src/conformance/index.ts'),
  },
  {
    find: /^@baton-lock\/core\/conformance\/runner$/,
    replacement: src('./packages/core/src/conformance/runner.ts'),
  },
  {
    find: /^@baton-lock\/(redis|postgres|sqlite|mysql|etcd|zookeeper|otel)$/,
    replacement: src('./packages/$1/src/index.ts'),
  },
  { find: /^@baton-lock\/test-matrix$/, replacement: src('./test-matrix/src/index.ts') },
  { find: /^@baton-lock\/test-matrix\/vitest$/, replacement: src('./test-matrix/src/vitest.ts') },
  { find: /^baton-lock$/, replacement: src('./packages/baton/src/index.ts') },
]

// Worker processes for all projects together (see maxWorkers below).
const WORKERS = 4

const project = (name: string, dir: string, testTimeout = 30_000) => ({
  extends: true as const,
  test: { name, root: src(dir), include: ['test/**/*.test.ts'], testTimeout, hookTimeout: 120_000 },
})

export default defineConfig({
  resolve: { alias },
  test: {
    reporters: process.env.CI ? ['default'] : ['default'],
    // Test files of every project share one pool of worker processes. vitest's default is one
    // worker fewer than the cores, so a single worker on a 2-core machine, and most files spend
    // their time waiting on servers, timers and child processes, not computing. Each file starts
    // its own servers on free loopback ports in their own directories (test-matrix), and the
    // few shared resources have locks (ensureBuilt, the data-directory templates), so files of
    // different projects can run side by side. BATON_TEST_WORKERS overrides the count.
    maxWorkers: Number(process.env.BATON_TEST_WORKERS) || WORKERS,
    projects: [
      project('@baton-lock/core', './packages/core'),
      project('@baton-lock/sqlite', './packages/sqlite'),
      project('@baton-lock/redis', './packages/redis', 60_000),
      project('@baton-lock/postgres', './packages/postgres', 60_000),
      project('@baton-lock/etcd', './packages/etcd', 60_000),
      project('@baton-lock/mysql', './packages/mysql', 60_000),
      project('@baton-lock/zookeeper', './packages/zookeeper', 60_000),
      project('baton-lock', './packages/baton', 60_000),
      project('@baton-lock/test-matrix', './test-matrix', 120_000),
      project('@baton-lock/bench', './packages/bench', 120_000),
      project('@baton-lock/faults', './packages/faults', 240_000),
      project('@baton-lock/otel', './packages/otel'),
      project('example-third-party-driver', './examples/third-party-driver'),
    ],
  },
})
