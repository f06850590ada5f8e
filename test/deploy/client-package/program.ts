/**
 * A user's program on the installed package (test/deploy/client-package.spec.ts copies it into an
 * empty project with the packed tarball, type-checks it with `strict` and runs it): two people
 * exchange a message, and the sender's copy goes sending → sent → delivered → read.
 */
import { MessagingClient, MessagingError, type ChatMessage, type MessageStatus } from '@platform/messaging-client';
import { ERROR_CODES, sendMessageSchema, type ErrorCode } from '@platform/messaging-client/contract';

export interface Outcome {
  statuses: MessageStatus[];
  received: string;
  receivedStatus: MessageStatus;
  errorCode: ErrorCode | 'TIMEOUT' | 'NOT_CONNECTED';
  knownCodes: number;
  schemaRefusesEmptyId: boolean;
}

function until(client: MessagingClient, done: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (stop(), reject(new Error(`${what}: not within ${timeoutMs} ms`))), timeoutMs);
    const check = () => {
      if (!done()) return;
      clearTimeout(timer);
      stop();
      resolve();
    };
    const stop = client.on('messages', check);
    check();
  });
}

export async function exchange(url: string, senderToken: string, recipientToken: string, recipientId: string): Promise<Outcome> {
  const sender = new MessagingClient({ url, token: senderToken, transports: ['websocket'] });
  const recipient = new MessagingClient({ url, token: () => recipientToken, transports: ['websocket'] });
  try {
    await Promise.all([sender.connect(), recipient.connect()]);
    const { conversationId } = await sender.startConversation(recipientId);
    await sender.loadLatest(conversationId);
    const statuses: MessageStatus[] = [];
    sender.on('messages', (id, messages) => {
      const status = messages.at(-1)?.status;
      if (id === conversationId && status && statuses.at(-1) !== status) statuses.push(status);
    });
    const arrived = new Promise<ChatMessage>((resolve) => recipient.on('message', resolve));
    const sent = await sender.send(conversationId, 'Hi, from the installed package');
    const incoming = await arrived;
    await until(sender, () => sender.messages(conversationId).find((m) => m.key === sent.key)?.status === 'delivered', 'delivered');
    recipient.setConversationVisible(conversationId, true);
    await until(sender, () => sender.messages(conversationId).find((m) => m.key === sent.key)?.status === 'read', 'read');
    const refused = await sender.startConversation(recipientId.repeat(0)).then(
      () => undefined,
      (error: unknown) => error,
    );
    return {
      statuses,
      received: incoming.text,
      receivedStatus: incoming.status,
      errorCode: refused instanceof MessagingError ? refused.code : 'NOT_CONNECTED',
      knownCodes: ERROR_CODES.length,
      schemaRefusesEmptyId: !sendMessageSchema.safeParse({ conversationId: '', text: 'x' }).success,
    };
  } finally {
    sender.close();
    recipient.close();
  }
}

/** The types are the real ones, not `any`: each line below must fail to type-check. */
export function misuses(client: MessagingClient): void {
  // @ts-expect-error a conversation id is a string
  void client.send(42, 'text');
  // @ts-expect-error statuses are a closed set
  const status: MessageStatus = 'seen';
  void status;
  // @ts-expect-error the events are typed
  client.on('no-such-event', () => undefined);
}
