/** Test support: the client's parts on a FakeSocket, wired as the facade wires them. */
import { DEFAULT_RECONNECT, DEFAULT_REQUEST_RETRY, DEFAULT_SEND_RETRY, type RetryPolicy } from '../src/backoff.js';
import { Calls } from '../src/calls.js';
import { Connection, type ConnectionState, type TokenSource } from '../src/connection.js';
import { ChangeFeed } from '../src/changes.js';
import { ConversationList } from '../src/conversation-list.js';
import type { MessagingError } from '../src/errors.js';
import { Outbox } from '../src/outbox.js';
import { Receipts } from '../src/receipts.js';
import { Stores } from '../src/stores.js';
import { Sync } from '../src/sync.js';
import { FakeSocket, token as makeToken } from './fake-socket.js';

export function connectionParts(options: { token?: TokenSource; requestRetry?: RetryPolicy; ackTimeoutMs?: number } = {}) {
  let socket: FakeSocket | undefined;
  const states: Array<[ConnectionState, string | undefined]> = [];
  const events: string[] = [];
  const connection = new Connection(
    {
      token: options.token ?? makeToken('alice'),
      reconnect: DEFAULT_RECONNECT,
      random: () => 0,
      socketFactory: (_url, socketOptions) => (socket = new FakeSocket(socketOptions)),
    },
    {
      state: (state, error) => states.push([state, error?.code]),
      connected: (resumed) => events.push(resumed ? 'resumed' : 'connected'),
      disconnected: (error: MessagingError) => {
        events.push(`disconnected ${error.code}`);
        calls.failInflight(error);
      },
      tokenError: (error) => events.push(`token error ${error.message}`),
    },
  );
  const calls = new Calls(connection, options.ackTimeoutMs ?? 1000, options.requestRetry ?? DEFAULT_REQUEST_RETRY, () => 0);
  return { connection, calls, states, events, socket: () => socket! };
}

/** The parts below the facade on a FakeSocket: stores, list, receipts, sync and outbox. */
export function dataParts(options: { sendRetry?: RetryPolicy; gapGraceMs?: number } = {}) {
  const base = connectionParts();
  const changed: string[] = [];
  const reports: string[] = [];
  const incoming: string[] = [];
  const changes = new ChangeFeed((ids, conversations) => changed.push(...ids, ...(conversations ? ['(list)'] : [])));
  const stores = new Stores(() => 'alice');
  const list = new ConversationList(() => changes.conversations());
  const common = {
    calls: base.calls,
    stores,
    list,
    changes,
    selfId: () => 'alice',
    isClosed: () => base.connection.isClosed,
    report: (error: MessagingError, context: string) => reports.push(`${context}: ${error.code}`),
  };
  const receipts = new Receipts({ ...common, isConnected: () => base.connection.connected });
  const sync = new Sync({ ...common, receipts, pageSize: 50, gapGraceMs: options.gapGraceMs ?? 200, incoming: (message) => incoming.push(message.key) });
  const outbox = new Outbox({ calls: base.calls, connection: base.connection, stores, changes, sync, policy: options.sendRetry ?? DEFAULT_SEND_RETRY, random: () => 0 });
  return { ...base, changes, stores, list, receipts, sync, outbox, changed, reports, incoming };
}
