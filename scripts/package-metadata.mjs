#!/usr/bin/env node
// Gives every public package the same publishing metadata (repository, homepage, bugs,
// keywords, sideEffects, main/types for older resolvers, files with CHANGELOG and LICENSE)
// and a copy of the root LICENSE. Idempotent: run it after adding a package
// (`node scripts/package-metadata.mjs`); the pack-and-install test checks the result.
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const REPO = 'https://github.com/baton-lock/baton'
const BASE_KEYWORDS = ['lock', 'distributed-lock', 'mutex', 'fencing-token', 'lease']

for (const entry of readdirSync(join(root, 'packages'))) {
  const dir = join(root, 'packages', entry)
  const file = join(dir, 'package.json')
  if (!existsSync(file)) continue
  const pkg = JSON.parse(readFileSync(file, 'utf8'))
  if (pkg.private === true) continue
  const backend = pkg.name.startsWith('@baton-lock/')
    ? pkg.name.slice('@baton-lock/'.length)
    : 'baton'
  const ordered = {
    name: pkg.name,
    version: pkg.version,
    description: pkg.description,
    keywords: [
      ...new Set([
        ...(pkg.keywords ?? []),
        ...BASE_KEYWORDS,
        ...(backend === 'baton' || backend === 'core' ? [] : [backend]),
      ]),
    ],
    homepage: `${REPO}/tree/main/packages/${entry}#readme`,
    bugs: { url: `${REPO}/issues` },
    repository: { type: 'git', url: `git+${REPO}.git`, directory: `packages/${entry}` },
    license: pkg.license ?? 'MIT',
    type: 'module',
    sideEffects: false,
    main: './dist/index.js',
    types: './dist/index.d.ts',
  }
  const files = new Set([...(pkg.files ?? ['dist']), 'CHANGELOG.md', 'LICENSE'])
  const out = { ...ordered, ...pkg, ...ordered, files: [...files] }
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`)
  copyFileSync(join(root, 'LICENSE'), join(dir, 'LICENSE'))
}
