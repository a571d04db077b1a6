import type { LockDriver } from '../driver.js'

/**
 * What a driver package exports for `connect(url)`: a class (or object) with a static
 * `fromUrl` that builds an unconnected driver from the URL as the user gave it
 * (credentials included; never echo them). `connect` then awaits `ready()`.
 */
export interface DriverFromUrl {
  fromUrl(url: string): LockDriver
}
