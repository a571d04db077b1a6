import { defineCapabilities } from '@baton-lock/core/driver'

/**
 * The table has no push channel and cannot tell a holder that its row vanished, so the
 * driver polls (`nativeWait: false`) and core learns of loss by failed renewals
 * (`lossSignal: false`); its fence counter lives in memory (`fencing: 'volatile'`).
 */
export const LEASE_TABLE_CAPABILITIES = defineCapabilities({
  expiry: 'lease',
  ttlResolutionMs: 1,
  fencing: 'volatile',
  inspect: true,
})
