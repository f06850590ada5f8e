/** The version of CONTRACT.md this package implements (the service reports the same one). */
export const CONTRACT_VERSION = '1.1';
