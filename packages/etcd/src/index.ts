export { etcdCapabilities } from './etcd-capabilities.js'
export { EtcdDriver } from './etcd-driver.js'
export {
  batonKeyOf,
  etcdLockName,
  lockPrefix,
  permitKey,
  readerKey,
  readPrefix,
  semaphoreName,
  waiterKey,
} from './etcd-key.js'
export type { EtcdDriverOptions, EtcdTlsOptions } from './etcd-options.js'
export { parseEtcdUrl } from './etcd-options.js'
