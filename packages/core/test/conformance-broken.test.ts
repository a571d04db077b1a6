import { describe, expect, it } from 'vitest'
import { ALL_CHECKS, type CheckResult, runChecks } from '../src/conformance/index.js'
import { defineCapabilities } from '../src/driver-kit/index.js'
import { BROKEN_DRIVERS, memoryOptions } from './kit/broken-drivers.js'
import { WrappedDriver } from './kit/wrapped-driver.js'

/** A correct MemoryDriver that declares the mutex only (no shared locks, no semaphores). */
class MutexOnlyDriver extends WrappedDriver {
  override readonly capabilities = defineCapabilities({
    ...this.inner.capabilities,
    sharedLocks: false,
    semaphores: false,
  })
}

// The kit tests itself: each deliberately broken driver must be caught by a named check,
// and the same check must pass for a correct MemoryDriver, so the failure is the breakage.
const names = new Set(ALL_CHECKS.map((c) => c.name))

function summary(results: readonly CheckResult[]): string {
  return results
    .map((r) => `${r.status}: ${r.name}${r.error instanceof Error ? ` (${r.error.message})` : ''}`)
    .join('\n')
}

describe('conformance kit self-test: broken drivers are caught by named checks', () => {
  for (const broken of BROKEN_DRIVERS) {
    describe(broken.label, () => {
      for (const name of broken.caughtBy) {
        it(`is caught by "${name}"`, async () => {
          expect(names.has(name), `no kit check is named "${name}"`).toBe(true)
          const results = await runChecks(broken.options(), { filter: (c) => c.name === name })
          expect(
            results.map((r) => r.status),
            summary(results),
          ).toEqual(['failed'])
        })
      }
    })
  }
})

describe('conformance kit self-test: the catching checks pass for a correct MemoryDriver', () => {
  const catching = [...new Set(BROKEN_DRIVERS.flatMap((b) => b.caughtBy))]
  it(`${catching.length} catching checks pass`, async () => {
    const results = await runChecks(memoryOptions('memory'), {
      filter: (c) => catching.includes(c.name),
    })
    expect(
      results.map((r) => r.status),
      summary(results),
    ).toEqual(catching.map(() => 'passed'))
  })
})

describe('runChecks reports skips with their reason', () => {
  it('the loss group is skipped without faults.dropLock, naming the missing hook', async () => {
    const { faults: _faults, ...withoutFaults } = memoryOptions('memory')
    const results = await runChecks(withoutFaults, { filter: (c) => c.group === 'loss' })
    expect(results.length).toBeGreaterThan(0)
    for (const r of results) {
      expect(r.status).toBe('skipped')
      expect(r.reason).toBe('no faults.dropLock given')
    }
  })

  it('the shared and semaphore groups and fuzz are skipped without the capabilities; elections and key sets run', async () => {
    const options = memoryOptions('mutex-only', (d) => new MutexOnlyDriver(d, 'mutex-only'))
    const groups = ['shared locks', 'semaphores', 'elections', 'key sets']
    const fuzz = ['R1-F1', 'M1c', 'E1c']
    const results = await runChecks(options, {
      filter: (c) => groups.includes(c.group) || fuzz.includes(c.id),
    })
    const byGroup = (group: string) => results.filter((r) => r.group === group)
    expect(byGroup('shared locks').length).toBeGreaterThan(0)
    for (const r of byGroup('shared locks')) {
      expect(r).toMatchObject({ status: 'skipped', reason: 'capabilities.sharedLocks is false' })
    }
    expect(byGroup('semaphores').length).toBeGreaterThan(0)
    for (const r of byGroup('semaphores')) {
      expect(r).toMatchObject({ status: 'skipped', reason: 'capabilities.semaphores is false' })
    }
    const status = Object.fromEntries(
      results.filter((r) => fuzz.includes(r.id)).map((r) => [r.id, r.status]),
    )
    expect(status).toEqual({ 'R1-F1': 'skipped', M1c: 'skipped', E1c: 'passed' })
    for (const r of [...byGroup('elections'), ...byGroup('key sets')]) {
      expect(r.status, summary([r])).toBe('passed')
    }
  })
})
