import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '@platform/messaging-client/contract';

/** What the handshake establishes for each socket. */
export interface SocketData {
  userId: string;
  /** Epoch milliseconds at which the token, and so the socket, expires. */
  expiresAt: number;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- no server-to-server events
type InterServerEvents = {};

export type MessagingServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type MessagingSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** Every socket of a user joins this room, on whichever instance it is connected. */
export function userRoom(userId: string): string {
  return `user:${userId}`;
}
