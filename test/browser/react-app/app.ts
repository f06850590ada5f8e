/**
 * A small React app on `@platform/messaging-client/react`, as a user would write one (the hooks
 * only; no framework beyond React). test/browser/react.spec.ts bundles it from the built package
 * and serves it from an origin of its own; it talks to the real service at `?service=`
 * (`&token=…&conversation=…`).
 */
import { createElement as h, useRef, useState, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { MessagingClient } from '@platform/messaging-client';
import { MessagingProvider, useConnectionState, useConversations, useMessages, useMessagingClient, useTyping } from '@platform/messaging-client/react';

/** Renders per component, for the test to see that unchanged snapshots do not render again. */
const renders = { list: 0, messages: 0, typing: 0 };
(globalThis as { renders?: typeof renders }).renders = renders;

function Connection(): ReactNode {
  const { state, error } = useConnectionState();
  return h('p', { 'data-testid': 'connection-state', title: error?.message ?? '' }, state);
}

function Conversations(): ReactNode {
  renders.list++;
  const client = useMessagingClient();
  const { conversations, loading } = useConversations();
  if (loading && conversations.length === 0) return h('p', { 'data-testid': 'conversations-loading' }, 'loading…');
  return h(
    'ul',
    null,
    conversations.map((summary) =>
      h(
        'li',
        { key: summary.conversationId, 'data-testid': 'conversation-item', 'data-peer': client.otherParticipant(summary) },
        h('span', { 'data-testid': 'last-message' }, summary.lastMessage?.text ?? ''),
        h('span', { 'data-testid': 'unread-count' }, String(summary.unreadCount)),
      ),
    ),
  );
}

function Messages({ conversationId }: { conversationId: string }): ReactNode {
  renders.messages++;
  const { messages, hasOlder, loadingOlder, loadOlder, send } = useMessages(conversationId);
  const input = useRef<HTMLInputElement>(null);
  return h(
    'section',
    null,
    hasOlder ? h('button', { 'data-testid': 'load-older', disabled: loadingOlder, onClick: () => void loadOlder() }, 'older') : null,
    h('p', { 'data-testid': 'history-complete' }, String(hasOlder === false)),
    h(
      'ol',
      { 'data-testid': 'message-list' },
      messages.map((message) => h('li', { key: message.key, 'data-testid': 'message', 'data-seq': message.seq ?? '', 'data-status': message.status, 'data-own': String(message.own) }, message.text)),
    ),
    h(Composer, { conversationId, input, send }),
  );
}

function Composer({ conversationId, input, send }: { conversationId: string; input: { current: HTMLInputElement | null }; send: (text: string) => unknown }): ReactNode {
  const { notifyTyping, stopTyping } = useTyping(conversationId);
  const [text, setText] = useState('');
  return h(
    'form',
    {
      onSubmit: (event: { preventDefault(): void }) => {
        event.preventDefault();
        if (text) void send(text);
        setText('');
      },
    },
    h('input', {
      ref: input,
      'data-testid': 'composer-input',
      value: text,
      onChange: (event: { target: { value: string } }) => {
        setText(event.target.value);
        if (event.target.value) notifyTyping();
        else stopTyping();
      },
    }),
    h('button', { 'data-testid': 'composer-send', type: 'submit' }, 'Send'),
  );
}

function Typing({ conversationId }: { conversationId: string }): ReactNode {
  renders.typing++;
  const { typingUsers } = useTyping(conversationId);
  return typingUsers.length > 0 ? h('p', { 'data-testid': 'typing-indicator' }, `${typingUsers.join(', ')} typing…`) : null;
}

const params = new URLSearchParams(location.search);
const client = new MessagingClient({ url: params.get('service') ?? undefined, token: params.get('token') ?? '', transports: ['websocket'] });
const conversationId = params.get('conversation') ?? '';
void client.connect();
createRoot(document.getElementById('root')!).render(
  h(MessagingProvider, { client }, h(Connection), h(Conversations), h(Typing, { conversationId }), h(Messages, { conversationId })),
);
