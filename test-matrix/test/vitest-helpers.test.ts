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

  test("a cluster's log shows the tail of every member, not of the joined logs", () => {
    const member = (name: string, port: number) => {
      const log = Array.from({ length: 300 }, (_, i) => `${name} line ${i}`).join('\n')
      return { name, host: '127.0.0.1', port, logs: () => log }
    }
    const members = [member('zk-1', 1001), member('zk-2', 1002), member('zk-3', 1003)]
    const cluster = {
      name: 'zookeeper-ensemble',
      url: 'zk://127.0.0.1:1001,127.0.0.1:1002,127.0.0.1:1003',
      members,
      logs: () => members.map((m) => m.logs()).join('\n'),
    } as unknown as Parameters<typeof formatLogs>[0]
    const text = formatLogs(cluster, 240)
    expect(text).toContain('last 80 lines of each member')
    for (const name of ['zk-1', 'zk-2', 'zk-3']) {
      expect(text).toContain(`===== ${name} (127.0.0.1:`)
      expect(text).toContain(`${name} line 299`)
      expect(text).toContain(`${name} line 220`)
      expect(text).not.toContain(`${name} line 219\n`)
    }
  })
})
