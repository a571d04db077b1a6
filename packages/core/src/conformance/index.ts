// `@baton-lock/core/conformance`: the vitest-free kit (runner.ts) plus `runConformance`, the one
// export that registers the checks with vitest.

export { runConformance } from './run-conformance.js'
export * from './runner.js'
