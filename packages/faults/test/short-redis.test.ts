import { shortProfile } from './short-profile.js'

shortProfile('redis')
