import mysql, { type Connection } from 'mysql2'

/** A plain mysql2 connection outside the driver, as an operator's client would be. */
export async function rawConnection(url: string): Promise<Connection> {
  const connection = mysql.createConnection({
    uri: url.replace(/^mariadb:/, 'mysql:'),
    charset: 'utf8mb4',
    supportBigNumbers: true,
    bigNumberStrings: true,
  })
  connection.on('error', () => {})
  await new Promise<void>((resolve, reject) =>
    connection.connect((err) => (err ? reject(err) : resolve())),
  )
  return connection
}

/** Runs one statement and resolves its rows. */
export function sql(
  connection: Connection,
  text: string,
  values: unknown[] = [],
): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    connection.query(text, values, (err, rows) =>
      err ? reject(err) : resolve(rows as Array<Record<string, unknown>>),
    )
  })
}

/** The connection id holding the server lock `name` (`IS_USED_LOCK`), or null when it is free. */
export async function holderOfName(connection: Connection, name: string): Promise<number | null> {
  const [row] = await sql(connection, 'SELECT IS_USED_LOCK(?) AS id', [name])
  return row?.id == null ? null : Number(row.id)
}

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes. */
export async function until(condition: () => Promise<boolean> | boolean, timeoutMs = 10_000) {
  const start = performance.now()
  while (!(await condition())) {
    if (performance.now() - start > timeoutMs)
      throw new Error(`condition not met in ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The value, or a failed test when it is null or undefined. */
export function must<T>(value: T | null | undefined): T {
  if (value === null || value === undefined) throw new Error('expected a value, got none')
  return value
}
