import pg from 'pg'
import type { StoreEntry } from '../history.js'

/**
 * The fenced PostgreSQL store: one row (value, fence) and a log table. `faults_write` takes the
 * row lock, accepts the write only when its fence is greater than the stored one, and logs the
 * decision, all in one statement, so a client stopped mid-call holds no lock across round trips.
 */
export async function createPostgresStore(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`
      DROP TABLE IF EXISTS faults_store, faults_store_log;
      CREATE TABLE faults_store (id int PRIMARY KEY, value bigint NOT NULL, fence numeric NOT NULL);
      INSERT INTO faults_store VALUES (1, 0, 0);
      CREATE TABLE faults_store_log (
        seq bigserial PRIMARY KEY, client text, op int, fence numeric, read_value bigint,
        value bigint, accepted boolean, last_fence numeric);
      CREATE OR REPLACE FUNCTION faults_write(f numeric, c text, o int, r bigint, v bigint)
      RETURNS boolean LANGUAGE plpgsql AS $$
      DECLARE last numeric; ok boolean;
      BEGIN
        SELECT fence INTO last FROM faults_store WHERE id = 1 FOR UPDATE;
        ok := f > last;
        IF ok THEN UPDATE faults_store SET value = v, fence = f WHERE id = 1; END IF;
        INSERT INTO faults_store_log (client, op, fence, read_value, value, accepted, last_fence)
          VALUES (c, o, f, r, v, ok, last);
        RETURN ok;
      END $$;`)
  } finally {
    await client.end()
  }
}

export async function postgresStoreEntries(url: string): Promise<StoreEntry[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query(
      'SELECT seq, client, op, fence::text AS fence, read_value, value, accepted, last_fence::text AS last_fence FROM faults_store_log ORDER BY seq',
    )
    return rows.map((r) => ({
      seq: Number(r.seq),
      client: String(r.client),
      op: Number(r.op),
      fence: String(r.fence),
      readValue: Number(r.read_value),
      value: Number(r.value),
      accepted: r.accepted === true,
      lastFence: String(r.last_fence),
    }))
  } finally {
    await client.end()
  }
}
