// Installs the packages as a user would: every public package packed with `pnpm pack`,
// installed into a fresh app outside the workspace with npm and with pnpm, a short script
// run on memory: and sqlite:, and the README's snippet type-checked by TypeScript 5.9 and
// the current TypeScript in nodenext and bundler resolution, with no @types/node.
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ensureBuilt, repoRoot } from '@baton-lock/test-matrix'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const TYPESCRIPTS = ['5.9.3', '7.0.2'] as const

interface Packed {
  readonly name: string
  readonly dir: string
  readonly tarball: string
  readonly files: readonly string[]
}

/** Public (non-private) workspace packages, in dependency order core first. */
function publicPackages(): Array<{ name: string; dir: string }> {
  const out: Array<{ name: string; dir: string }> = []
  for (const entry of readdirSync(join(repoRoot, 'packages'))) {
    const dir = join('packages', entry)
    let pkg: { name?: string; private?: boolean }
    try {
      pkg = JSON.parse(readFileSync(join(repoRoot, dir, 'package.json'), 'utf8'))
    } catch {
      continue
    }
    if (pkg.private !== true && typeof pkg.name === 'string') out.push({ name: pkg.name, dir })
  }
  return out.sort((a, b) =>
    a.name === '@baton-lock/core' ? -1 : b.name === '@baton-lock/core' ? 1 : 0,
  )
}

const work = mkdtempSync(join(tmpdir(), 'baton-pack-'))
const packed: Packed[] = []
// Keep npm and pnpm from reading the workspace's or the user's settings that change installs.
// NODE_PATH too: pnpm's bin shims set it to the workspace's hoisted node_modules, where the
// app would find the workspace's better-sqlite3 (a user's app has none on Node 20).
const env = {
  ...process.env,
  NODE_PATH: undefined,
  npm_config_nodedir: undefined,
  npm_config_yes: 'true',
  CI: 'true',
}

beforeAll(async () => {
  const pkgs = publicPackages()
  ensureBuilt(pkgs.map((p) => p.dir))
  const dest = join(work, 'tarballs')
  mkdirSync(dest)
  for (const { name, dir } of pkgs) {
    const { stdout } = await run('pnpm', ['pack', '--pack-destination', dest], {
      cwd: join(repoRoot, dir),
      env,
    })
    const tarball = stdout.trim().split('\n').pop() ?? ''
    const list = await run('tar', ['-tzf', tarball])
    packed.push({ name, dir, tarball, files: list.stdout.trim().split('\n') })
  }
  for (const version of TYPESCRIPTS) {
    await run(
      'npm',
      [
        'install',
        '--prefix',
        join(work, `ts-${version}`),
        '--no-save',
        '--no-package-lock',
        `typescript@${version}`,
      ],
      { env },
    )
  }
}, 600_000)

afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('packed tarballs', () => {
  it('carry LICENSE, README, CHANGELOG and dist, and no bench code or dangling source maps', async () => {
    expect(packed.map((p) => p.name)).toEqual(
      expect.arrayContaining(['@baton-lock/core', 'baton-lock']),
    )
    for (const p of packed) {
      for (const file of [
        'package/LICENSE',
        'package/README.md',
        'package/CHANGELOG.md',
        'package/package.json',
      ]) {
        expect(p.files, `${p.name} lacks ${file}`).toContain(file)
      }
      expect(
        p.files.filter((f) => f.includes('/bench/')),
        `${p.name} ships bench code`,
      ).toEqual([])
      expect(
        p.files.filter((f) => f.startsWith('package/src/')),
        `${p.name} ships sources`,
      ).toEqual([])
      const readme = (await run('tar', ['-xzOf', p.tarball, 'package/README.md'])).stdout
      for (const [, target] of readme.matchAll(/\]\(([^)#\s]+)[^)]*\)/g)) {
        if (target === undefined || /^[a-z]+:/i.test(target)) continue
        const inside = join('package', target).replace(/\\/g, '/')
        expect(p.files, `${p.name} README links to ${target}, which the tarball lacks`).toContain(
          inside,
        )
      }
      const maps = p.files.filter((f) => f.endsWith('.map'))
      for (const map of maps.slice(0, 3)) {
        const { stdout } = await run('tar', ['-xzOf', p.tarball, map])
        const parsed = JSON.parse(stdout) as { sources: string[]; sourcesContent?: unknown[] }
        expect(
          parsed.sourcesContent?.length,
          `${p.name} ${map} points to sources it does not ship`,
        ).toBe(parsed.sources.length)
      }
    }
  })

  it('publish inter-package ranges that allow independent patch and minor releases', async () => {
    for (const p of packed) {
      const { stdout } = await run('tar', ['-xzOf', p.tarball, 'package/package.json'])
      const manifest = JSON.parse(stdout) as Record<string, Record<string, string> | undefined>
      for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
        for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
          if (!dep.startsWith('@baton-lock/') && dep !== 'baton-lock') continue
          expect(range, `${p.name} ${field}.${dep}`).toMatch(/^\^\d+\.\d+\.\d+$/)
        }
      }
      for (const field of [
        'repository',
        'homepage',
        'bugs',
        'keywords',
        'sideEffects',
        'main',
        'types',
      ]) {
        expect(manifest[field], `${p.name} package.json lacks ${field}`).toBeDefined()
      }
    }
  })
})

const APP_SCRIPT = `
import { connect, isLockError, Locker, MemoryDriver, LockTimeoutError } from 'baton-lock'
const out = {}
const memory = new Locker(new MemoryDriver())
await memory.withLock('k', async (lock) => { out.memoryFence = typeof lock.fence })
await memory.close()
const hasNodeSqlite = await import('node:sqlite').then(() => true, () => false)
try {
  const locker = await connect('sqlite:./locks/app.db')
  const held = await locker.acquire('job', { waitMs: 1000 })
  const other = await connect('sqlite:./locks/app.db')
  try {
    await other.acquire('job', { waitMs: 50 })
    out.sqlite = 'second holder granted'
  } catch (err) {
    out.sqlite = isLockError(err, 'LOCK_TIMEOUT') && err instanceof LockTimeoutError ? 'excluded' : String(err)
  }
  out.fence = held.fence.toString()
  await held.release()
  await other.close()
  await locker.close()
} catch (err) {
  out.sqliteError = { lockError: isLockError(err), message: String(err?.message) }
}
out.hasNodeSqlite = hasNodeSqlite
try {
  await connect('redis://user:s3cret-pw@127.0.0.1:1')
  out.redis = 'connected without its driver package'
} catch (err) {
  out.redis = { code: err?.code, message: String(err?.message) }
}
console.log(JSON.stringify(out))
`

/** Typical use of the public API, with no Node globals: it must compile without @types/node. */
const API_USE = `
import { connect, isLockError, Locker, MemoryDriver, type LockHandle } from 'baton-lock'
const locker: Locker = await connect('memory:')
const maybe: LockHandle | null = await locker.tryAcquire('k')
await maybe?.release()
try {
  await new Locker(new MemoryDriver()).acquire('k', { waitMs: 1 })
} catch (err) {
  if (isLockError(err, 'LOCK_TIMEOUT')) {
    const waited: number = err.waitMs
    void waited
  }
}
{
  await using lock = await locker.acquire('k', { waitMs: 5_000, ttlMs: 10_000 })
  const fence: bigint = lock.fence
  void fence
}
await locker.close()
export {}
`

/** The first TypeScript block of README.md, as a user would paste it into a module. */
function readmeSnippet(): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
  if (block === undefined) throw new Error('README.md has no ts block')
  return `${block}\nexport {}\n`
}

async function makeApp(manager: 'npm' | 'pnpm'): Promise<string> {
  const app = join(work, `app-${manager}`)
  mkdirSync(app)
  const byName = Object.fromEntries(packed.map((p) => [p.name, `file:${p.tarball}`]))
  const baton = byName['baton-lock'] ?? ''
  const core = byName['@baton-lock/core'] ?? ''
  const sqlite = byName['@baton-lock/sqlite'] ?? ''
  const overrides = { '@baton-lock/core': core, '@baton-lock/sqlite': sqlite }
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({
      name: `app-${manager}`,
      private: true,
      type: 'module',
      dependencies: { 'baton-lock': baton },
      devDependencies: { '@types/node': '^22.0.0' },
      overrides,
      pnpm: { overrides },
    }),
  )
  writeFileSync(join(app, 'app.mjs'), APP_SCRIPT)
  writeFileSync(join(app, 'snippet.ts'), readmeSnippet())
  writeFileSync(join(app, 'api.ts'), API_USE)
  const args =
    manager === 'npm'
      ? ['install', '--no-audit', '--no-fund']
      : ['install', '--reporter=append-only']
  await run(manager, args, { cwd: app, env, timeout: 300_000 })
  return app
}

describe.each(['npm', 'pnpm'] as const)('installed with %s', (manager) => {
  let app = ''
  beforeAll(async () => {
    app = await makeApp(manager)
  }, 600_000)

  it('runs on memory: and on sqlite: with no native build where node:sqlite exists', async () => {
    const { stdout } = await run(process.execPath, ['app.mjs'], { cwd: app, env, timeout: 60_000 })
    const out = JSON.parse(stdout.trim().split('\n').pop() ?? '{}')
    expect(out.memoryFence).toBe('bigint')
    // a driver package the app did not install: a typed error naming it, no credentials
    expect(out.redis.code).toBe('LOCK_UNSUPPORTED')
    expect(out.redis.message).toMatch(/npm install @baton-lock\/redis/)
    expect(out.redis.message).not.toContain('s3cret-pw')
    if (out.hasNodeSqlite) {
      expect(out).toMatchObject({ sqlite: 'excluded' })
      expect(BigInt(out.fence)).toBeGreaterThan(0n)
    } else {
      // No node:sqlite (Node < 22.13) and no better-sqlite3 installed: a LockError saying what to install.
      expect(out.sqliteError?.lockError).toBe(true)
      expect(out.sqliteError?.message).toMatch(/better-sqlite3/)
    }
  })

  it('shows the command line from the installed package', async () => {
    const { stdout } = await run(join(app, 'node_modules/.bin/baton'), ['--version'], {
      cwd: app,
      env,
    })
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
  })

  it.each(
    TYPESCRIPTS.flatMap((version) => [
      [version, 'nodenext', 'nodenext'],
      [version, 'esnext', 'bundler'],
    ]),
  )(
    'the API (no @types/node) and the README snippet type-check with TypeScript %s, module %s, resolution %s, strict',
    async (version, module, resolution) => {
      const tsc = join(work, `ts-${version}`, 'node_modules/.bin/tsc')
      const check = async (file: string, types: string[]) => {
        const tsconfig = join(app, `tsconfig.${version}.${resolution}.${file}.json`)
        const compilerOptions = {
          strict: true,
          noEmit: true,
          target: 'es2022',
          module,
          moduleResolution: resolution,
          types,
        }
        writeFileSync(tsconfig, JSON.stringify({ compilerOptions, files: [file] }))
        return run(tsc, ['-p', tsconfig], { cwd: app, env }).then(
          () => '',
          (err: { stdout?: string; stderr?: string }) =>
            `${file}: ${err.stdout ?? ''}${err.stderr ?? ''}`,
        )
      }
      expect(await check('api.ts', [])).toBe('')
      expect(await check('snippet.ts', ['node'])).toBe('')
    },
  )
})
