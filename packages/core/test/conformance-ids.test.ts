import { ALL_CHECKS } from '@baton-lock/core/conformance/runner'
import { describe, expect, it } from 'vitest'

describe('conformance check ids', () => {
  it('every check has a unique id of the documented shape', () => {
    const ids = ALL_CHECKS.map((check) => check.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const id of ids) expect(id).toMatch(/^[A-Z]+\d*(?:-[A-Z]+\d*)?[a-z]?$/)
  })

  it('a check named after an invariant carries that invariant as its id', () => {
    for (const check of ALL_CHECKS) {
      const code = /^([A-Z]+\d*(?:\/[A-Z]+\d*)?):/.exec(check.name)?.[1]
      if (code !== undefined) expect(check.id.replace(/[a-z]$/, '')).toBe(code.replace('/', '-'))
    }
  })
})
