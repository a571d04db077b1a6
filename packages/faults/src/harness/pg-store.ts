import pg from 'pg'
import type { StoreEntry } from '../history.js'

/**
 * The fenced PostgreSQL store: one row (value, fence of the last accepted write, highest fence
 * presented) and a log table. `faults_read` records the reader's fence and returns the row;
 * `faults_write` takes the row lock, accepts the write only when its fence is greater than the
 * stored one and not below any presented before, and logs the decision. Each is one statement,
 * so a client stopped mid-call holds no lock across round trips.
 */
export async function createPostgresStore(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`
      DROP TABLE IF EXISTS faults_store, faults_store_log;
      CREATE TABLE faults_store (
        id int PRIMARY KEY, value bigint NOT NULL, fence numeric NOT NULL, seen numeric NOT NULL);
      INSERT INTO faults_store VALUES (1, 0, 0, 0);
      CREATE TABLE faults_store_log (
        seq bigserial PRIMARY KEY, client text, op int, fence numeric, read_value bigint,
        value bigint, accepted boolean, last_fence numeric, seen_fence numeric);
      CREATE OR REPLACE FUNCTION faults_read(f numeric, OUT value bigint, OUT fence numeric)
      LANGUAGE sql AS $$
        UPDATE faults_store SET seen = greatest(seen, f) WHERE id = 1
        RETURNING faults_store.value, faults_store.fence $$;
      CREATE OR REPLACE FUNCTION faults_write(f numeric, c text, o int, r bigint, v bigint)
      RETURNS boolean LANGUAGE plpgsql AS $$
      DECLARE last numeric; presented numeric; ok boolean;
      BEGIN
        SELECT s.fence, s.seen INTO last, presented FROM faults_store s WHERE id = 1 FOR UPDATE;
        ok := f > last AND f >= presented;
        IF ok THEN UPDATE faults_store SET value = v, fence = f, seen = f WHERE id = 1; END IF;
        INSERT INTO faults_store_log
            (client, op, fence, read_value, value, accepted, last_fence, seen_fence)
          VALUES (c, o, f, r, v, ok, last, presented);
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
      'SELECT seq, client, op, fence::text AS fence, read_value, value, accepted, last_fence::text AS last_fence, seen_fence::text AS seen_fence FROM faults_store_log ORDER BY seq',
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
      seenFence: String(r.seen_fence),
    }))
  } finally {
    await client.end()
  }
}
