import { RedisDriver, type RedisDriverOptions } from '@baton-lock/redis'
import type { Redis } from 'ioredis'

/** Drivers made through `connectDriver`, closed by `closeAll`. */
export class DriverPool {
  readonly #drivers: RedisDriver[] = []

  async connect(url: string, options: Partial<RedisDriverOptions> = {}): Promise<RedisDriver> {
    const driver = await RedisDriver.connect({ url, onWarning: () => {}, ...options })
    this.#drivers.push(driver)
    return driver
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.#drivers.splice(0).map((d) => d.close()))
  }
}

/** Calls of the given commands since the server started, summed, from INFO commandstats. */
export async function commandCalls(raw: Redis, ...commands: string[]): Promise<number> {
  const stats = await raw.info('commandstats')
  let calls = 0
  for (const command of commands) {
    calls += Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
  }
  return calls
}

/** Script calls (ioredis sends EVAL the first time on a connection, EVALSHA after). */
export function scriptCalls(raw: Redis): Promise<number> {
  return commandCalls(raw, 'eval', 'evalsha')
}

/** Median of a list of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}
