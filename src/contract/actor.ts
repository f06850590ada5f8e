/** Who performs an action: the authenticated user, and the socket it came through (if any). */
export interface Actor {
  readonly userId: string;
  /** Set for Socket.IO actions, so that broadcasts can skip the socket that acted. */
  readonly socketId?: string;
}
