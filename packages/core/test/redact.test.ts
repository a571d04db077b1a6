import { describe, expect, it } from 'vitest'
import { redact } from '../src/redact.js'

describe('redact', () => {
  it.each([
    ['redis://:s3cret@127.0.0.1:6379/0', 'redis://:***@127.0.0.1:6379/0'],
    ['postgres://app:s3cret@db:5432/x', 'postgres://app:***@db:5432/x'],
    ['redis://user:p@ss@host:1', 'redis://user:***@host:1'],
    ['connect to rediss://u:a/b@h failed', 'connect to rediss://u:***@h failed'],
    ['host=db user=app password=s3cret dbname=x', 'host=db user=app password=*** dbname=x'],
    ['mysql://root@127.0.0.1:3306/test', 'mysql://***@127.0.0.1:3306/test'],
  ])('%s', (input, expected) => {
    expect(redact(input)).toBe(expected)
    expect(redact(input)).not.toMatch(/s3cret|p@ss|a\/b/)
  })

  it('leaves text without credentials alone', () => {
    const text = 'etcd://127.0.0.1:2379,127.0.0.1:2380 lock "a@b" fence 7'
    expect(redact(text)).toBe(text)
  })
})
