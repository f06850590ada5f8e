import type { AckResult, ClientEvent, ClientEventMap } from './contract/socket-contract.js';
import { backoffDelay, sleep, type RetryPolicy } from './backoff.js';
import type { Connection } from './connection.js';
import { isRetryable, MessagingError, toMessagingError } from './errors.js';

export type Data<E extends ClientEvent> = ClientEventMap[E]['data'];
export type Payload<E extends ClientEvent> = ClientEventMap[E]['payload'];

/**
 * Calls to the server: one emit with an acknowledgement and a timeout (`call`), and the same with
 * retries and backoff for what retrying can fix (`request`). Calls in flight fail at once when
 * the socket drops.
 */
export class Calls {
  private readonly inflight = new Set<(error: MessagingError) => void>();

  constructor(
    private readonly connection: Connection,
    readonly ackTimeoutMs: number,
    private readonly defaultPolicy: RetryPolicy,
    private readonly random: () => number,
  ) {}

  /** Any client→server event, with retries (`policy`); rejects with a MessagingError carrying the server's code. */
  async request<E extends ClientEvent>(event: E, payload: Payload<E>, policy: RetryPolicy = this.defaultPolicy): Promise<Data<E>> {
    let lastError = new MessagingError('NOT_CONNECTED', 'not connected to the server');
    for (let attempt = 0; attempt < policy.maxAttempts; attempt++) {
      if (attempt > 0) await sleep(backoffDelay(attempt - 1, policy, this.random));
      if (this.connection.isClosed) throw new MessagingError('NOT_CONNECTED', 'the client is closed');
      try {
        await this.connection.waitFor(this.ackTimeoutMs);
        return await this.call(event, payload);
      } catch (caught) {
        lastError = toMessagingError(caught);
        if (!isRetryable(lastError)) throw lastError;
      }
    }
    throw lastError;
  }

  /** One emit with an acknowledgement and a timeout. `onAck` also sees acknowledgements that come too late. */
  call<E extends ClientEvent>(event: E, payload: Payload<E>, onAck?: (result: AckResult<Data<E>>) => void): Promise<Data<E>> {
    const socket = this.connection.socket;
    if (!socket?.connected) return Promise.reject(new MessagingError('NOT_CONNECTED', 'not connected to the server'));
    return new Promise<Data<E>>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inflight.delete(fail);
        outcome();
      };
      const fail = (error: MessagingError) => settle(() => reject(error));
      const timer = setTimeout(() => fail(new MessagingError('TIMEOUT', `no answer to ${event} within ${this.ackTimeoutMs} ms`)), this.ackTimeoutMs);
      this.inflight.add(fail);
      socket.emit(event, payload, (result: AckResult<Data<E>>) => {
        if (typeof result !== 'object' || result === null || typeof result.ok !== 'boolean') {
          fail(new MessagingError('INTERNAL', `malformed acknowledgement to ${event}`));
          return;
        }
        onAck?.(result);
        if (result.ok) settle(() => resolve(result.data));
        else fail(new MessagingError(result.error.code, result.error.message));
      });
    });
  }

  /** Best-effort (typing): no retries, and no error if it is lost. */
  fireAndForget<E extends 'startTyping' | 'stopTyping'>(event: E, payload: Payload<E>): void {
    if (!this.connection.connected) return;
    this.call(event, payload).catch(() => undefined);
  }

  /** The socket dropped or the client closed: every call waiting for an acknowledgement fails now. */
  failInflight(error: MessagingError): void {
    for (const fail of [...this.inflight]) fail(error);
  }
}
