export { LOCAL_ADDRESS, sequenceOf, sortedLockNodes } from './curator-lock.js'
export type { ZkClient } from './zk-client.js'
export { zookeeperCapabilities } from './zookeeper-capabilities.js'
export { ZookeeperDriver } from './zookeeper-driver.js'
export { keyOfNodeName, lockNodeName, lockPath, semaphorePath } from './zookeeper-key.js'
export type {
  ExclusiveRecipe,
  ParsedZookeeperUrl,
  ZookeeperDriverOptions,
} from './zookeeper-options.js'
export { parseZookeeperUrl } from './zookeeper-options.js'
