/**
 * Runs `fn` with `held` and releases it after, also when `fn` throws: then `fn`'s error is
 * the one thrown, and a failing release is ignored. `withLock`, `withAll` and
 * `Semaphore.withLock` are this over their acquire.
 */
export async function runAndRelease<H extends { release(): Promise<void> }, T>(
  held: H,
  fn: (held: H) => T | Promise<T>,
): Promise<T> {
  let result: T
  try {
    result = await fn(held)
  } catch (err) {
    await held.release().catch(() => undefined)
    throw err
  }
  await held.release()
  return result
}
