import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// vitest is an optional peer: only the runConformance entry may load it, and the main
// index must never load the kit. Checked on the import graph of the sources.
const srcDir = resolve(dirname(fileURLToPath(import.meta.url)), '../src')
const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g

/** Every source file and bare module reachable from `entry` by value imports. */
function reachable(entry: string): { files: Set<string>; modules: Set<string> } {
  const files = new Set<string>()
  const modules = new Set<string>()
  const visit = (file: string) => {
    if (files.has(file)) return
    files.add(file)
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      if (/^\s*(?:import|export)\s+type\s/.test(match[0].replace(/^\n/, ''))) continue
      const spec = (match[1] ?? match[2]) as string
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')))
      else modules.add(spec)
    }
  }
  visit(resolve(srcDir, entry))
  return { files, modules }
}

describe('conformance entry points', () => {
  it('runConformance (conformance/index.ts) loads vitest', () => {
    expect(reachable('conformance/index.ts').modules).toContain('vitest')
  })

  it('the vitest-free runner (conformance/runner.ts) never reaches vitest', () => {
    const { modules, files } = reachable('conformance/runner.ts')
    expect([...modules]).not.toContain('vitest')
    expect([...files].some((f) => f.endsWith('run-conformance.ts'))).toBe(false)
  })

  it('the main @baton-lock/core index never reaches the conformance kit', () => {
    const { files, modules } = reachable('index.ts')
    expect([...files].filter((f) => f.includes('/conformance/'))).toEqual([])
    expect([...modules]).not.toContain('vitest')
  })
})
