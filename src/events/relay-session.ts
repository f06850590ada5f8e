import pg from 'pg';
import { decodeMessage, messageColumns } from '../messages/message-row.js';

/** An event of the outbox, as the relay publishes it: `payload` is the JSON text stored. */
export interface OutboxEvent {
  /** The row's: the events of a send batch share it. */
  position: string;
  id: string;
  subject: string;
  payload: string;
}

/**
 * The key of the session advisory lock that makes one relay of all the instances on a database the
 * publisher (docs/events.md). Advisory locks are per database, so test databases do not contend.
 */
const RELAY_LOCK_KEY = '7163384102651957301';

/**
 * The oldest rows' events in publication order, whole rows up to about $1 events: a row is one event
 * (id and JSON payload) or a send batch's message.sent events (the ids of their messages, whose
 * rows the events are built from: migration 20261203210000_outbox_batches). Outbox rows come from
 * the primary key's order and LIMIT, messages by primary key one at a time (OFFSET 0 keeps the
 * lookup a parameterized index scan), whatever the statistics say.
 */
export const OUTBOX_OLDEST = `SELECT o.position::text, o.subject, o.id::text, o.payload::text, m.recipient_id, ${messageColumns('m')}
  FROM (SELECT position, id, subject, payload, message_ids, sum(events) OVER (ORDER BY position) - events AS before
        FROM outbox_event ORDER BY position LIMIT $1) o
  LEFT JOIN LATERAL unnest(o.message_ids) WITH ORDINALITY AS b(message_id, ord) ON true
  LEFT JOIN LATERAL (SELECT * FROM message WHERE message.id = b.message_id OFFSET 0) m ON true
  WHERE o.before < $1
  ORDER BY o.position, b.ord`;

/** The event of a row of OUTBOX_OLDEST. */
function decodeEvent(row: unknown[]): OutboxEvent {
  const [position, subject, id, payload] = row as [string, string, string | null, string | null];
  if (payload !== null && id !== null) return { position, id, subject, payload };
  const message = decodeMessage(row, 5);
  if (!message) throw new Error(`outbox row ${position}: a message of its batch is missing`);
  // The message as it was sent: the receipts it got since are events of their own.
  const { deliveredAt: _delivered, readAt: _read, ...sent } = message;
  return { position, id: message.messageId, subject, payload: JSON.stringify({ eventId: message.messageId, occurredAt: message.timestamp, message: sent, recipientId: row[4] }) };
}

/**
 * A relay's own session on the database: the advisory lock is held by this session, and the
 * relay reads and deletes through it, so that losing the session (a broken connection, a killed
 * process) both ends the lead and stops the publishing it guarded.
 */
export class RelaySession {
  private readonly client: pg.Client;
  private brokenError: Error | undefined;

  private constructor(url: string) {
    this.client = new pg.Client({ connectionString: url, options: '-c TimeZone=UTC', connectionTimeoutMillis: 2000, keepAlive: true });
    // The relay notices through `broken` and its next query's failure; the listener keeps the
    // error from ending the process.
    this.client.on('error', (error) => (this.brokenError ??= error));
    this.client.on('end', () => (this.brokenError ??= new Error('the relay session ended')));
  }

  static async open(url: string): Promise<RelaySession> {
    const session = new RelaySession(url);
    try {
      await session.client.connect();
    } catch (error) {
      await session.close();
      throw error;
    }
    return session;
  }

  get broken(): Error | undefined {
    return this.brokenError;
  }

  /** True when this session now holds (or already held) the relay lock. */
  async tryLead(): Promise<boolean> {
    const result = await this.client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [RELAY_LOCK_KEY]);
    return result.rows[0]?.locked === true;
  }

  /** The oldest events, about `limit` of them, in position order (within a conversation: commit order). */
  async oldest(limit: number): Promise<OutboxEvent[]> {
    const result = await this.client.query<unknown[]>({ name: 'outbox_oldest', text: OUTBOX_OLDEST, values: [limit], rowMode: 'array' });
    return result.rows.map(decodeEvent);
  }

  /** Deletes whole rows (a send batch's row once all its events are published). */
  async delete(positions: string[]): Promise<void> {
    await this.client.query({ name: 'outbox_delete', text: 'DELETE FROM outbox_event WHERE position = ANY($1::bigint[])', values: [positions] });
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}
