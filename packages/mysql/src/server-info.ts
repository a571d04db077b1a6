import type { LockSession } from './lock-session.js'
import { type MysqlServerInfo, serverInfo } from './mysql-capabilities.js'

/**
 * One round trip of facts: the version, Galera's `wsrep_on` (MySQL has no such variable,
 * so it is read through SHOW VARIABLES, which returns no row there), and which lock
 * tables exist for operators.
 */
const SERVER_FACTS_SQL = [
  'SELECT VERSION() AS version, ' +
    "(SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'information_schema' AND TABLE_NAME = 'METADATA_LOCK_INFO') AS mli, " +
    "(SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'performance_schema' AND TABLE_NAME = 'metadata_locks') AS psl, " +
    '@@performance_schema AS ps',
  "SHOW VARIABLES LIKE 'wsrep_on'",
].join('; ')

/** Reads and checks what the server is (see `serverInfo` for what is refused). */
export async function readServerInfo(session: LockSession): Promise<MysqlServerInfo> {
  const result = (await session.query(SERVER_FACTS_SQL)) as Array<Array<Record<string, unknown>>>
  const facts = result[0]?.[0] ?? {}
  const wsrep = result[1]?.[0]
  return serverInfo({
    version: String(facts.version ?? session.serverVersion),
    wsrepOn: wsrep === undefined ? undefined : String(wsrep.Value),
    metadataLockInfo: Number(facts.mli) > 0,
    performanceSchemaLocks: Number(facts.psl) > 0 && Number(facts.ps) === 1,
  })
}
