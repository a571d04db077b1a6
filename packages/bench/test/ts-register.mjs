// `node --import ./packages/bench/test/ts-register.mjs packages/bench/src/cli.ts --quick`
// runs the benchmark from sources (see ts-hooks.mjs).
import { register } from 'node:module'

register('./ts-hooks.mjs', import.meta.url)
