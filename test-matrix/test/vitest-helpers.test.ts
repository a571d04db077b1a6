import { describe, expect, test } from 'vitest'
import { startRedis } from '../src/index.js'
import { formatLogs, useServer } from '../src/vitest.js'

describe('useServer and formatLogs', () => {
  const redis = useServer(() => startRedis({ password: 'hunter2' }))

  test('the log printed for a failed test names the server and hides the password', () => {
    const text = formatLogs(redis(), 5)
    expect(text).toContain(`redis log (redis://:***@127.0.0.1:${redis().port}), last 5 lines`)
    expect(text).toMatch(/Ready to accept connections/)
    expect(text).not.toContain('hunter2')
  })
})
