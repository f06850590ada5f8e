/** The version of the messaging contract (CONTRACT.md) that this package and the service built on it implement. */
export const CONTRACT_VERSION = '1.1';
