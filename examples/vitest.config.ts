import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// Temporary runner for the examples until the root vitest.config.ts lists them as a
// project: `npx vitest run --config examples/vitest.config.ts`. Same aliases as the root.
const src = (path: string) => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@baton\/core$/, replacement: src('../packages/core/src/index.ts') },
      {
        find: /^@baton\/core\/conformance$/,
        replacement: src('../packages/core/src/conformance/index.ts'),
      },
    ],
  },
  test: {
    name: 'examples',
    root: src('./third-party-driver'),
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
})
