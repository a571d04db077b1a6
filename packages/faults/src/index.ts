export { CHECKERS, checkHistory, type HistoryVerdict } from './checkers/check-history.js'
export { checkL1, type LiveBound, type LiveMeasurement } from './checkers/check-l1.js'
export { checkL3, L3_BOUND_MS } from './checkers/check-l3.js'
export { checkN1 } from './checkers/check-n1.js'
export { checkH1, checkS4 } from './checkers/check-probes.js'
export { checkS1 } from './checkers/check-s1.js'
export { checkS3 } from './checkers/check-s3.js'
export { checkStore, type StoreSummary } from './checkers/check-store.js'
export type { CheckerName, Violation } from './checkers/violation.js'
export { type HandleWindow, handleWindows } from './checkers/windows.js'
export type { Control } from './client/client-config.js'
export { BACKENDS, deploy, TTL_MS } from './harness/backends.js'
export { buildForClients } from './harness/build.js'
export type { BackendName, Deployment } from './harness/deployment.js'
export { NEMESES, type Nemesis, nemesesFor } from './harness/nemeses.js'
export { runScenario, type ScenarioResult } from './harness/scenario.js'
export type { HistoryEvent, NemesisEvent, StoreEntry } from './history.js'
export { nowMs, parseJsonLines } from './history.js'
export {
  DEPLOYMENT_LIMITS,
  KNOWN_LIMITS,
  type KnownLimit,
  knownLimitOf,
} from './known-limits.js'
