/**
 * Whether two users are first-degree connections. The implementation lives at the edge
 * (src/connections); it throws AppError UNAVAILABLE when it cannot answer, never guesses.
 */
export interface ConnectionChecker {
  areConnected(userA: string, userB: string): Promise<boolean>;
}
export const CONNECTION_CHECKER = Symbol('CONNECTION_CHECKER');
