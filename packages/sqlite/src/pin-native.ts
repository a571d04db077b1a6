/**
 * For the better-sqlite3 binding only: node:sqlite's objects are not ObjectWraps and are
 * collected as usual. better-sqlite3 before 13 builds `Database` and `Statement` on
 * `node::ObjectWrap`. Since Node 24.19, an ObjectWrap finalised by a garbage collection
 * that runs outside any V8 context (an idle GC) aborts the process with `Assertion
 * failed: (env) != nullptr` in `RemoveEnvironmentCleanupHook`. better-sqlite3 13 fixes
 * that but needs Node 22, and the fallback exists for Node 20. So on Node 24 and later
 * every native object the driver makes through better-sqlite3 is kept reachable for the
 * life of the process; at exit Node's environment cleanup frees them safely. The driver
 * makes one `Database` and about ten statements per driver instance, so the cost is a
 * few kilobytes per driver ever opened.
 */
const MUST_PIN = Number(process.versions.node.split('.')[0]) >= 24
const pinned: object[] = []

/** Returns `native`, kept alive for ever when this Node needs it (see above). */
export function pinNative<T extends object>(native: T): T {
  if (MUST_PIN) pinned.push(native)
  return native
}
