import type { LockUrl } from '../lock-url.js'
import { scrub } from '../lock-url.js'

/**
 * Everything `baton` itself prints goes through here, so that no credential of the URL
 * in use ever reaches the terminal or a log: the URL's password (raw and decoded) is
 * replaced, and core's `redact()` catches any other `user:password@` or `password=`.
 * Diagnostics go to stderr, keeping stdout for results (and for `baton run`'s command).
 */
const secrets: string[] = []

/** Registers the secrets of a URL about to be used. */
export function guardSecrets(url: LockUrl): void {
  secrets.push(...url.secrets)
}

/** Scrubs every registered secret and anything that looks like one. */
export function safe(text: string): string {
  return scrub(text, { secrets })
}

/** A result line on stdout. */
export function print(text: string): void {
  process.stdout.write(`${safe(text)}\n`)
}

/** A diagnostic line on stderr, prefixed `baton: `. */
export function warn(text: string): void {
  process.stderr.write(`baton: ${safe(text)}\n`)
}

/** One JSON line (a result), scrubbed like every other line; stderr where stdout is not ours. */
export function printJson(value: unknown, stream: 'stdout' | 'stderr' = 'stdout'): void {
  process[stream].write(`${safe(JSON.stringify(value))}\n`)
}
