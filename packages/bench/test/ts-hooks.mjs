// Module hooks that let Node run the benchmark straight from its TypeScript sources (the
// smoke test forks worker processes, and those cannot use vitest's transform). They map the
// workspace packages to their sources, exactly as vitest.config.ts aliases them, and strip
// types with the TypeScript compiler. Output is cached by path, size and mtime, so worker
// processes after the first do not even load the compiler. Used only by tests and local
// runs from sources, never by `pnpm bench`.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = new URL('../../../', import.meta.url)
const cacheDir = fileURLToPath(new URL('../node_modules/.cache/ts-hooks/', import.meta.url))
const aliases = new Map([
  ['@baton-lock/core', 'packages/core/src/index.ts'],
  ['@baton-lock/core/driver', 'packages/core/src/driver-kit/index.ts'],
  ['@baton-lock/core/conformance', 'packages/core/src/conformance/index.ts'],
  ['@baton-lock/redis', 'packages/redis/src/index.ts'],
  ['@baton-lock/postgres', 'packages/postgres/src/index.ts'],
  ['@baton-lock/sqlite', 'packages/sqlite/src/index.ts'],
  ['@baton-lock/test-matrix', 'test-matrix/src/index.ts'],
  ['baton-lock', 'packages/baton/src/index.ts'],
])

export async function resolve(specifier, context, next) {
  const alias = aliases.get(specifier)
  if (alias) return { url: new URL(alias, root).href, shortCircuit: true }
  const parent = context.parentURL
  if (parent?.endsWith('.ts') && specifier.startsWith('.') && specifier.endsWith('.js')) {
    const candidate = new URL(`${specifier.slice(0, -3)}.ts`, parent)
    if (existsSync(fileURLToPath(candidate))) return { url: candidate.href, shortCircuit: true }
  }
  return next(specifier, context)
}

let ts
async function transpile(file, source) {
  ts ??= (await import('typescript')).default
  return ts.transpileModule(source, {
    fileName: file,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
      inlineSourceMap: true,
    },
  }).outputText
}

export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context)
  const file = fileURLToPath(url)
  const { size, mtimeMs } = statSync(file)
  const cached = `${cacheDir}${createHash('sha1').update(`${file}:${size}:${mtimeMs}`).digest('hex')}.js`
  if (existsSync(cached))
    return { format: 'module', source: readFileSync(cached, 'utf8'), shortCircuit: true }
  const source = await transpile(file, readFileSync(file, 'utf8'))
  mkdirSync(cacheDir, { recursive: true })
  // Write then rename: another process must never read a half-written file.
  const partial = `${cached}.${process.pid}.tmp`
  writeFileSync(partial, source)
  renameSync(partial, cached)
  return { format: 'module', source, shortCircuit: true }
}
