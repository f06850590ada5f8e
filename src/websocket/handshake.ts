import type { ExtendedError } from 'socket.io';
import { bearerToken, type JwtVerifier } from '../auth/jwt-verifier.js';
import type { Lifecycle } from '../infrastructure/lifecycle/lifecycle.js';
import type { HandshakeError } from '@platform/messaging-client/contract';
import type { SocketQuota } from './socket-quota.js';
import type { MessagingSocket } from './socket-types.js';

type Next = (error?: ExtendedError) => void;

/**
 * The Socket.IO handshake (CONTRACT §2): a verified token from `auth.token` or an
 * `Authorization: Bearer` header, and a free slot in the user's socket quota. A refused handshake
 * reaches the client as `connect_error` with the bare code as its message.
 */
export function handshakeMiddleware(verifier: JwtVerifier, quota: SocketQuota, lifecycle: Lifecycle) {
  return (socket: MessagingSocket, next: Next): void => {
    // A draining instance takes no new sockets; the client retries and lands on another one.
    if (lifecycle.shuttingDown) return next(refusal('UNAVAILABLE'));
    const auth = socket.handshake.auth as { token?: unknown } | undefined;
    const token = auth?.token ?? bearerToken(socket.handshake.headers.authorization);
    verifier.verify(token).then(
      (verified) => {
        if (lifecycle.shuttingDown) return next(refusal('UNAVAILABLE'));
        // The connection may have dropped while the token was being verified: its 'close' has
        // already fired, so a slot taken now would never come back (CONTRACT §3.4: live sockets only).
        if (socket.conn.readyState !== 'open') return next(refusal('UNAVAILABLE'));
        const release = quota.tryTake(verified.userId);
        if (!release) return next(refusal('RESOURCE_EXHAUSTED'));
        // From here on the connection is open, so one of these fires: the socket ends, or the
        // connection drops before or after the socket is connected.
        socket.once('disconnect', release);
        socket.conn.once('close', release);
        socket.data.userId = verified.userId;
        socket.data.expiresAt = verified.expiresAt;
        next();
      },
      () => next(refusal('UNAUTHENTICATED')),
    );
  };
}

function refusal(code: HandshakeError): ExtendedError {
  return new Error(code);
}
