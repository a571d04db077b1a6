import { fourLetterWord } from '@baton-lock/test-matrix'
import { type ZkStat, zookeeper } from '../src/zk-client.js'

/** A plain node-zookeeper-client session for tests to look at and break things. */
export interface AdminClient {
  getChildren(path: string): Promise<string[]>
  getData(path: string): Promise<{ data: Buffer; stat: ZkStat }>
  exists(path: string): Promise<ZkStat | null>
  remove(path: string): Promise<void>
  /** Creates `path` and its ancestors as PERSISTENT nodes (e.g. a chroot, which must exist). */
  mkdirp(path: string): Promise<void>
  close(): void
}

/** Connects a plain client to `url` (`zk://host:port,...`). */
export async function adminClient(url: string): Promise<AdminClient> {
  const client = zookeeper.createClient(url.replace(/^zk:\/\//, ''), {
    sessionTimeout: 10_000,
    spinDelay: 100,
    retries: 0,
  })
  await new Promise<void>((resolve) => {
    client.once('connected', resolve)
    client.connect()
  })
  const call = <T>(send: (done: (err: Error | null, value: T) => void) => void) =>
    new Promise<T>((resolve, reject) => send((err, value) => (err ? reject(err) : resolve(value))))
  return {
    getChildren: (path) =>
      call<string[]>((done) => client.getChildren(path, (err, children) => done(err, children))),
    getData: (path) =>
      call((done) =>
        client.getData(path, undefined, (err, data, stat) =>
          done(err, { data: data ?? Buffer.alloc(0), stat }),
        ),
      ),
    exists: (path) => call((done) => client.exists(path, done)),
    remove: (path) => call<void>((done) => client.remove(path, -1, (err) => done(err, undefined))),
    mkdirp: (path) =>
      call<void>((done) =>
        (client as unknown as { mkdirp(p: string, cb: (e: Error | null) => void): void }).mkdirp(
          path,
          (err) => done(err, undefined),
        ),
      ),
    close: () => client.close(),
  }
}

/** A number from the `mntr` four-letter word's reply (e.g. `zk_packets_received`). */
export async function monitored(
  member: { host: string; port: number },
  name: string,
): Promise<number> {
  const line = (await fourLetterWord(member.host, member.port, 'mntr'))
    .split('\n')
    .find((l) => l.startsWith(`${name}\t`))
  if (line === undefined) throw new Error(`mntr did not report ${name}`)
  return Number(line.split('\t')[1])
}
