/**
 * How a Baton key becomes a Curator lock path: `<rootPath>/<escaped key>`, one znode level
 * per key, so `a` and `a/b` are two unrelated locks (as two Curator paths `/r/a` and
 * `/r/a%2Fb`). A Java service locks the same key with
 * `new InterProcessMutex(client, lockPath(key, rootPath))`; for a key made of letters,
 * digits and most punctuation the path is simply `rootPath + '/' + key`.
 *
 * Escaped as `%XX` (uppercase hex of each UTF-8 byte): `%` and `/`; code points ZooKeeper
 * rejects in a path (U+0000-U+001F, U+007F-U+009F, U+D800-U+F8FF, U+FFF0-U+FFFF, and
 * everything above U+FFFF, which Java sees as surrogates); and the dots of a key that is
 * `.` or `..`. The mapping is one-to-one, so `keyOfNodeName` inverts it.
 */
export function lockPath(key: string, rootPath: string): string {
  return `${rootPath === '/' ? '' : rootPath}/${lockNodeName(key)}`
}

/**
 * The znode under the root that holds every semaphore: `%semaphores`, a name
 * `lockNodeName` never makes (it escapes every `%`), so no lock key reaches it and `list`
 * skips it.
 */
export const SEMAPHORES_NODE = '%semaphores'

/**
 * How a Baton semaphore key becomes a Curator `InterProcessSemaphoreV2` path:
 * `<rootPath>/%semaphores/<escaped key>` (escaped as in `lockPath`), apart from the lock of
 * the same key. A Java service shares the semaphore with
 * `new InterProcessSemaphoreV2(client, semaphorePath(key, rootPath), limit)`.
 */
export function semaphorePath(key: string, rootPath: string): string {
  return `${rootPath === '/' ? '' : rootPath}/${SEMAPHORES_NODE}/${lockNodeName(key)}`
}

/** The single znode name a key maps to (see `lockPath`). */
export function lockNodeName(key: string): string {
  if (key === '.' || key === '..') return key.replaceAll('.', '%2E')
  // most keys need no escaping: one scan instead of a string built char by char
  if (!NEEDS_ESCAPE.test(key)) return key
  let out = ''
  for (const char of key) {
    const cp = char.codePointAt(0) ?? 0
    out += mustEscape(cp) ? percentEncode(char) : char
  }
  return out
}

/** The key a lock node name came from, or undefined if the name is not one `lockNodeName` makes. */
export function keyOfNodeName(name: string): string | undefined {
  try {
    const key = decodeURIComponent(name)
    return lockNodeName(key) === name ? key : undefined
  } catch {
    return undefined
  }
}

/**
 * A UTF-16 code unit that `mustEscape` escapes (a code point above U+FFFF is a surrogate
 * pair, and surrogates are in the U+D800-U+F8FF range): a key without one maps to itself.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
const NEEDS_ESCAPE = /[%/\u0000-\u001f\u007f-\u009f\ud800-\uf8ff\ufff0-\uffff]/

function mustEscape(cp: number): boolean {
  return (
    cp === 0x25 || // %
    cp === 0x2f || // /
    cp <= 0x1f ||
    (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0xd800 && cp <= 0xf8ff) ||
    cp >= 0xfff0
  )
}

function percentEncode(char: string): string {
  let out = ''
  for (const byte of Buffer.from(char, 'utf8'))
    out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  return out
}
