/**
 * The messaging contract v1.1 (CONTRACT §3): payload schemas (zod), the shapes, the error codes
 * and the typed Socket.IO events. The one definition the service and this client both use:
 * `import { sendMessageSchema, type Message } from '@platform/messaging-client/contract'`.
 */
export { CONTRACT_VERSION } from './version.js';
export { ERROR_CODES } from './error-codes.js';
export type { ErrorCode } from './error-codes.js';
export type * from './models.js';
export * from './schemas.js';
export type * from './socket-contract.js';
export { compareCodePoints, isWellFormed } from './unicode.js';
