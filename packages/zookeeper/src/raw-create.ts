import type { ZkClient, ZkInternals, ZkStat } from './zk-client.js'
import { jute, zookeeper } from './zk-client.js'

/** ZooKeeper's wire opcodes for `create2` and `createContainer` (3.5+) and `sync`, absent from node-zookeeper-client. */
const OP_CREATE2 = 15
const OP_CREATE_CONTAINER = 19
const OP_SYNC = 9

/** ZooKeeper create modes (flags of CreateRequest). */
export const CreateMode = { EPHEMERAL_SEQUENTIAL: 3, CONTAINER: 4, PERSISTENT: 0 } as const

/** What a raw create returns: the created path (chroot removed) and its `Stat`. */
export interface Created {
  readonly path: string
  readonly stat: ZkStat
}

let openAclRecords: unknown[] | undefined

/** OPEN_ACL_UNSAFE as jute records, made once: serialising a request only reads them. */
function openAcl(): unknown[] {
  openAclRecords ??= zookeeper.ACL.OPEN_ACL_UNSAFE.map((acl) => acl.toRecord())
  return openAclRecords
}

/**
 * Sends a `create2` or `createContainer` request through the client's own connection
 * (same session, same ordering, no retry). node-zookeeper-client 1.1 only sends opcode 1
 * (`create`), whose reply carries no `Stat` (so no `czxid` without a second round trip)
 * and which cannot make CONTAINER nodes. Both opcodes take a plain CreateRequest and reply
 * with Create2Response = path (ustring) + Stat, which on the wire is exactly a
 * GetDataResponse (buffer + Stat). So the request is serialised with the real opcode and
 * queued with GET_DATA as its header type, which is what the library uses to pick the
 * reply decoder; `data` then holds the path's UTF-8 bytes.
 */
export function rawCreate(
  client: ZkClient,
  path: string,
  data: Buffer,
  mode: number,
): Promise<Created> {
  return new Promise((resolve, reject) => {
    sendRawCreate(client, path, data, mode, (error, created) =>
      error ? reject(error) : resolve(created),
    )
  })
}

/**
 * `rawCreate` with a callback (node-zookeeper-client's style): a caller that has its own
 * callback, as `ZkSession.call` does, needs no promise in between.
 */
export function sendRawCreate(
  client: ZkClient,
  path: string,
  data: Buffer,
  mode: number,
  done: (error: Error | null, created: Created) => void,
): void {
  const { connectionManager } = client as unknown as ZkInternals
  const header = new jute.protocol.RequestHeader()
  header.type = jute.OP_CODES.GET_DATA
  const payload = new jute.protocol.CreateRequest()
  payload.path = path
  payload.data = data
  payload.acl = openAcl()
  payload.flags = mode
  const request = new jute.Request(header, payload)
  withOpcode(request, mode === CreateMode.CONTAINER ? OP_CREATE_CONTAINER : OP_CREATE2)
  connectionManager.queue(request, (error, response) => {
    if (error) return done(error, undefined as never)
    const reply = response.payload
    if (reply === null)
      return done(new Error(`create of ${path} got an empty reply`), undefined as never)
    const chroot = connectionManager.chrootPath ?? ''
    const full = reply.data.toString('utf8')
    const created =
      chroot !== '' && full.startsWith(chroot) ? full.slice(chroot.length) || '/' : full
    done(null, { path: created, stat: reply.stat })
  })
}

/**
 * Sends a `sync` of `path` (node-zookeeper-client has none): the server the session is on
 * catches up with the leader before it answers, so a read sent after it on this session
 * sees every write the leader had received before it, another member's forwarded create
 * included. SyncRequest is one ustring, as GetACLRequest is, and SyncResponse one ustring,
 * as CreateResponse is: the request is serialised as the one and read as the other.
 */
export function sendSync(
  client: ZkClient,
  path: string,
  done: (error: Error | null) => void,
): void {
  const { connectionManager } = client as unknown as ZkInternals
  const header = new jute.protocol.RequestHeader()
  header.type = jute.OP_CODES.CREATE
  const payload = new jute.protocol.GetACLRequest()
  payload.path = path
  const request = new jute.Request(header, payload)
  withOpcode(request, OP_SYNC)
  connectionManager.queue(request, (error) => done(error))
}

/**
 * `getChildren(path)` without a watch, queued as node-zookeeper-client's own method queues
 * it (GetChildren2Request, the same bytes on the wire) but without its retry wrapper (an
 * async loop, an argument copy and a result record per request, for `retries: 0`) and its
 * path check (the driver's paths are valid by construction).
 */
export function sendGetChildren(
  client: ZkClient,
  path: string,
  done: (error: Error | null, children: string[]) => void,
): void {
  const header = new jute.protocol.RequestHeader()
  header.type = jute.OP_CODES.GET_CHILDREN2
  const payload = new jute.protocol.GetChildren2Request()
  payload.path = path
  payload.watch = false
  ;(client as unknown as ZkInternals).connectionManager.queue(
    new jute.Request(header, payload),
    (error, response) =>
      error ? done(error, undefined as never) : done(null, response.payload?.children ?? []),
  )
}

/** `remove(path, -1)` queued directly, as `sendGetChildren` does (DeleteRequest, same bytes). */
export function sendDelete(
  client: ZkClient,
  path: string,
  done: (error: Error | null) => void,
): void {
  const header = new jute.protocol.RequestHeader()
  header.type = jute.OP_CODES.DELETE
  const payload = new jute.protocol.DeleteRequest()
  payload.path = path
  payload.version = -1
  ;(client as unknown as ZkInternals).connectionManager.queue(
    new jute.Request(header, payload),
    (error) => done(error),
  )
}

/** Makes `request` go out with `opcode` while the library files its reply under its header type. */
function withOpcode(request: { toBuffer(): Buffer }, opcode: number): void {
  const toBuffer = request.toBuffer.bind(request)
  // frame: int32 length, then RequestHeader (int32 xid, int32 type): the type is at byte 8
  request.toBuffer = () => {
    const buffer = toBuffer()
    buffer.writeInt32BE(opcode, 8)
    return buffer
  }
}
