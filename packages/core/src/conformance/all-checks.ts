import type { ConformanceCheck } from './check.js'
import { abortChecks } from './checks/abort-checks.js'
import { acquireChecks } from './checks/acquire-checks.js'
import { electionChecks } from './checks/election-checks.js'
import { exclusionChecks } from './checks/exclusion-checks.js'
import { expiryChecks } from './checks/expiry-checks.js'
import { fencingChecks } from './checks/fencing-checks.js'
import { fuzzChecks } from './checks/fuzz-checks.js'
import { hygieneChecks } from './checks/hygiene-checks.js'
import { keyChecks } from './checks/key-checks.js'
import { keySetChecks } from './checks/key-set-checks.js'
import { lifecycleChecks } from './checks/lifecycle-checks.js'
import { lossChecks } from './checks/loss-checks.js'
import { ownershipChecks } from './checks/ownership-checks.js'
import { reentrancyChecks } from './checks/reentrancy-checks.js'
import { renewalChecks } from './checks/renewal-checks.js'
import { semaphoreChecks } from './checks/semaphore-checks.js'
import { sharedChecks } from './checks/shared-checks.js'
import { waitingChecks } from './checks/waiting-checks.js'

/** Every check of the kit, in group order. */
export const ALL_CHECKS: readonly ConformanceCheck[] = Object.freeze([
  ...acquireChecks,
  ...exclusionChecks,
  ...reentrancyChecks,
  ...waitingChecks,
  ...abortChecks,
  ...ownershipChecks,
  ...expiryChecks,
  ...renewalChecks,
  ...lossChecks,
  ...fencingChecks,
  ...keyChecks,
  ...lifecycleChecks,
  ...hygieneChecks,
  ...sharedChecks,
  ...semaphoreChecks,
  ...electionChecks,
  ...keySetChecks,
  ...fuzzChecks,
])
