import type { Socket as NetSocket } from 'node:net';

/**
 * Coalesces what one connection writes within one turn of the event loop (its synchronous code and
 * the promise callbacks that follow) into a single `writev`: the first write corks the TCP socket
 * and the next tick uncorks it. Without it, every Socket.IO frame is a system call of its own, and
 * on loopback each costs about 30 µs, a quarter of the service's CPU under a stream of small acks
 * and broadcasts (docs/performance.md). Nothing waits longer: the tick ends before any I/O is read.
 * `ws` corks around each frame as well; corks nest, so the outer one holds.
 */
export function coalesceWrites(socket: NetSocket): void {
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  const write = socket.write;
  socket.write = function (this: NetSocket, ...args: Parameters<NetSocket['write']>) {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args as never);
  } as NetSocket['write'];
}
