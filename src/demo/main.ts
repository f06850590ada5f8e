/**
 * The demo web client (CONTRACT §6), built on the SDK: the conversation list with unread counts,
 * a conversation with scroll-back, message statuses, the typing indicator, and a way to start a
 * conversation. `/?token=<jwt>` signs in; the open conversation is kept in the URL's #fragment.
 */
import { MessagingClient, MessagingError, type ChatMessage, type ConnectionState, type ConversationSummary } from '@platform/messaging-client';
import { byId, formatTime, h, setText } from './dom.js';

/** How close to an edge of the message list counts as "at" it (px). */
const NEAR_EDGE_PX = 80;
const MAX_VISIBLE_ERRORS = 4;

/** A sentence a person can act on, for each error code. */
function describe(error: unknown, context: { action?: 'start' | 'send' | 'load'; participantId?: string } = {}): string {
  if (!(error instanceof MessagingError)) return error instanceof Error ? error.message : String(error);
  switch (error.code) {
    case 'NOT_CONNECTED':
      return 'Not connected to the server. Reconnecting…';
    case 'TIMEOUT':
      return 'The server did not answer in time. Try again.';
    case 'UNAVAILABLE':
      return 'The service is temporarily unavailable. Try again in a moment.';
    case 'RESOURCE_EXHAUSTED':
      return 'Too many messages at once: slow down a little.';
    case 'UNAUTHENTICATED':
      return 'Your sign-in link is invalid or has expired. Open a fresh one (npm start prints them).';
    case 'PERMISSION_DENIED':
      if (context.action === 'start') return `You can only message your connections: “${context.participantId ?? ''}” is not one of them.`;
      if (context.action === 'send') return 'This message cannot be sent: you are no longer connected to this person.';
      return 'You cannot see this conversation.';
    case 'INVALID_ARGUMENT':
      return `Not accepted: ${error.message}`;
    default:
      return `Something went wrong (${error.code}): ${error.message}`;
  }
}

const CONNECTION_LABEL: Record<ConnectionState, string> = {
  idle: 'starting…',
  connecting: 'connecting…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  unauthenticated: 'signed out',
  closed: 'closed',
};

class DemoApp {
  private active?: string;
  private loadingOlder = false;
  private readonly bubbles = new Map<string, HTMLLIElement>();
  private readonly items = new Map<string, HTMLLIElement>();
  private readonly errors = new Map<string, HTMLElement>();

  private readonly list = byId<HTMLUListElement>('conversation-list');
  private readonly scroller = byId('message-scroller');
  private readonly messageList = byId<HTMLOListElement>('messages');
  private readonly composer = byId<HTMLFormElement>('composer');
  private readonly composerInput = byId<HTMLInputElement>('composer-input');

  constructor(private readonly client: MessagingClient) {}

  async start(): Promise<void> {
    const client = this.client;
    byId('main').hidden = false;
    setText(byId('me'), `Signed in as ${client.userId}`);
    client.on('connection', (state, error) => this.renderConnection(state, error));
    client.on('conversations', () => this.renderConversations());
    client.on('messages', (conversationId) => conversationId === this.active && this.renderMessages());
    client.on('typing', (conversationId) => {
      this.renderConversations();
      if (conversationId === this.active) this.renderTyping();
    });
    client.on('error', (error) => {
      // Connection trouble has its own banner.
      if (error.code !== 'NOT_CONNECTED' && error.code !== 'TIMEOUT') this.showError(describe(error));
    });
    this.bindForms();
    this.scroller.addEventListener('scroll', () => {
      if (this.scroller.scrollTop < NEAR_EDGE_PX) void this.loadOlder();
    });
    document.addEventListener('visibilitychange', () => this.updateVisibility());
    window.addEventListener('hashchange', () => {
      const id = location.hash.slice(1);
      if (id && id !== this.active) void this.open(id);
    });

    try {
      await client.connect();
      await client.loadConversations();
    } catch (error) {
      // A refused token already has its banner (the `connection` event).
      if (!(error instanceof MessagingError && error.code === 'UNAUTHENTICATED')) this.showError(describe(error, { action: 'load' }), 'startup');
      return;
    }
    this.renderConversations();
    const fromUrl = location.hash.slice(1);
    if (fromUrl) await this.open(fromUrl);
  }

  // ---- forms ------------------------------------------------------------------------------

  private bindForms(): void {
    const startForm = byId<HTMLFormElement>('start-form');
    const startInput = byId<HTMLInputElement>('start-input');
    startForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const participantId = startInput.value.trim();
      if (!participantId) return;
      if (participantId === this.client.userId) {
        this.showError('That is you: start a conversation with one of your connections.');
        return;
      }
      this.client.startConversation(participantId).then(
        (conversation) => {
          startInput.value = '';
          this.clearError('start');
          void this.open(conversation.conversationId);
        },
        (error: unknown) => this.showError(describe(error, { action: 'start', participantId }), 'start'),
      );
    });

    this.composerInput.addEventListener('input', () => {
      if (!this.active) return;
      if (this.composerInput.value.trim()) this.client.notifyTyping(this.active);
      else this.client.stopTyping(this.active);
    });
    this.composer.addEventListener('submit', (event) => {
      event.preventDefault();
      const conversationId = this.active;
      const text = this.composerInput.value;
      if (!conversationId || !text.trim()) return;
      this.composerInput.value = '';
      const sending = this.client.send(conversationId, text);
      this.renderMessages({ toBottom: true });
      void sending.then((message) => {
        if (message.status === 'failed' && message.error) this.showError(describe(new MessagingError(message.error.code, message.error.message), { action: 'send' }));
      });
    });
  }

  // ---- conversation list ------------------------------------------------------------------

  private renderConversations(): void {
    const conversations = this.client.conversations();
    byId('no-conversations').hidden = conversations.length > 0;
    const seen = new Set<string>();
    let cursor: ChildNode | null = this.list.firstChild;
    for (const summary of conversations) {
      seen.add(summary.conversationId);
      let item = this.items.get(summary.conversationId);
      if (!item) {
        item = this.createItem(summary.conversationId);
        this.items.set(summary.conversationId, item);
      }
      this.updateItem(item, summary);
      if (item === cursor) cursor = cursor.nextSibling;
      else this.list.insertBefore(item, cursor);
    }
    for (const [id, item] of this.items) {
      if (!seen.has(id)) {
        item.remove();
        this.items.delete(id);
      }
    }
    const unread = conversations.reduce((sum, summary) => sum + summary.unreadCount, 0);
    document.title = unread > 0 ? `(${unread}) Messaging demo` : 'Messaging demo';
  }

  private createItem(conversationId: string): HTMLLIElement {
    const button = h(
      'button',
      { attrs: { type: 'button' } },
      h('span', { class: 'peer' }),
      h('span', { class: 'when' }),
      h('span', { class: 'preview' }),
      h('span', { class: 'unread', testid: 'unread-count' }),
    );
    button.addEventListener('click', () => void this.open(conversationId));
    const item = h('li', { class: 'conversation-item', testid: 'conversation-item' }, button);
    item.dataset.conversationId = conversationId;
    return item;
  }

  private updateItem(item: HTMLLIElement, summary: ConversationSummary): void {
    const peer = this.client.otherParticipant(summary);
    const typing = this.client.typingUsers(summary.conversationId).length > 0;
    const last = summary.lastMessage;
    const preview = typing ? 'typing…' : last ? `${last.senderId === this.client.userId ? 'You: ' : ''}${last.text}` : 'No messages yet';
    item.classList.toggle('active', summary.conversationId === this.active);
    item.dataset.peer = peer;
    setText(item.querySelector('.peer')!, peer);
    setText(item.querySelector('.when')!, formatTime(summary.updatedAt));
    const previewElement = item.querySelector('.preview')!;
    setText(previewElement, preview);
    previewElement.classList.toggle('typing', typing);
    const unread = item.querySelector<HTMLElement>('.unread')!;
    setText(unread, String(summary.unreadCount));
    unread.hidden = summary.unreadCount === 0;
  }

  // ---- one conversation -------------------------------------------------------------------

  private async open(conversationId: string): Promise<void> {
    if (this.active && this.active !== conversationId) {
      this.client.setConversationVisible(this.active, false);
    }
    this.active = conversationId;
    if (location.hash.slice(1) !== conversationId) history.replaceState(null, '', `${location.pathname}${location.search}#${conversationId}`);
    for (const bubble of this.bubbles.values()) bubble.remove();
    this.bubbles.clear();
    byId('empty-view').hidden = true;
    byId('conversation-view').hidden = false;
    const summary = this.client.conversation(conversationId);
    setText(byId('peer-name'), summary ? this.client.otherParticipant(summary) : '');
    this.renderConversations();
    this.renderMessages({ toBottom: true });
    this.renderTyping();
    this.updateVisibility();
    this.composerInput.focus();
    try {
      await this.client.loadLatest(conversationId);
    } catch (error) {
      this.showError(describe(error, { action: 'load' }));
      return;
    }
    if (this.active !== conversationId) return;
    const loaded = this.client.conversation(conversationId);
    if (loaded) setText(byId('peer-name'), this.client.otherParticipant(loaded));
    this.renderMessages({ toBottom: true });
    // A short first page may not fill the view: keep loading until it scrolls, or all is here.
    while (this.active === conversationId && this.scroller.scrollHeight <= this.scroller.clientHeight + NEAR_EDGE_PX && this.client.hasOlder(conversationId)) {
      if (!(await this.loadOlder())) break;
    }
  }

  /** Loads the page above the oldest message shown, keeping what is on screen in place. */
  private async loadOlder(): Promise<boolean> {
    const conversationId = this.active;
    if (!conversationId || this.loadingOlder || this.client.hasOlder(conversationId) !== true) return false;
    this.loadingOlder = true;
    this.renderHistoryStatus();
    let added = 0;
    try {
      added = (await this.client.loadOlder(conversationId)).added;
    } catch (error) {
      this.showError(describe(error, { action: 'load' }));
    } finally {
      this.loadingOlder = false;
    }
    if (this.active !== conversationId) return false;
    this.renderMessages();
    // Still at the top (a fast scroll, a tall window): the next page.
    if (added > 0 && this.scroller.scrollTop < NEAR_EDGE_PX && this.client.hasOlder(conversationId)) requestAnimationFrame(() => void this.loadOlder());
    return added > 0;
  }

  private renderMessages(options: { toBottom?: boolean } = {}): void {
    const conversationId = this.active;
    if (!conversationId) return;
    const scroller = this.scroller;
    const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < NEAR_EDGE_PX;
    const previousHeight = scroller.scrollHeight;
    const previousTop = scroller.scrollTop;
    const firstBefore = (this.messageList.firstElementChild as HTMLElement | null)?.dataset.key;

    const messages = this.client.messages(conversationId);
    const seen = new Set<string>();
    let cursor: ChildNode | null = this.messageList.firstChild;
    for (const message of messages) {
      seen.add(message.key);
      let bubble = this.bubbles.get(message.key);
      if (!bubble) {
        bubble = this.createBubble(message);
        this.bubbles.set(message.key, bubble);
      }
      this.updateBubble(bubble, message);
      if (bubble === cursor) cursor = cursor.nextSibling;
      else this.messageList.insertBefore(bubble, cursor);
    }
    for (const [key, bubble] of this.bubbles) {
      if (!seen.has(key)) {
        bubble.remove();
        this.bubbles.delete(key);
      }
    }
    this.renderHistoryStatus();

    const firstAfter = (this.messageList.firstElementChild as HTMLElement | null)?.dataset.key;
    if (options.toBottom || nearBottom) scroller.scrollTop = scroller.scrollHeight;
    else if (firstBefore !== undefined && firstAfter !== firstBefore) scroller.scrollTop = previousTop + (scroller.scrollHeight - previousHeight);
  }

  private createBubble(message: ChatMessage): HTMLLIElement {
    const meta = h('div', { class: 'meta' }, h('time', { class: 'time' }));
    if (message.own) meta.append(h('span', { class: 'status', testid: 'message-status' }));
    const bubble = h('li', { class: message.own ? 'bubble own' : 'bubble', testid: 'message' }, h('p', { class: 'text', text: message.text }), meta);
    bubble.dataset.key = message.key;
    return bubble;
  }

  private updateBubble(bubble: HTMLLIElement, message: ChatMessage): void {
    if (message.seq !== undefined) bubble.dataset.seq = String(message.seq);
    if (message.messageId) bubble.dataset.messageId = message.messageId;
    bubble.dataset.status = message.status;
    setText(bubble.querySelector('.text')!, message.text);
    const time = bubble.querySelector('time')!;
    setText(time, formatTime(message.timestamp ?? message.createdAt));
    if (message.timestamp) time.dateTime = message.timestamp;
    const status = bubble.querySelector<HTMLElement>('[data-testid="message-status"]');
    if (!status) return;
    setText(status, message.status);
    status.className = `status status-${message.status}`;
    status.title = message.error ? describe(new MessagingError(message.error.code, message.error.message)) : '';
    let retry = bubble.querySelector<HTMLButtonElement>('.retry');
    if (message.status === 'failed' && !retry) {
      retry = h('button', { class: 'retry', text: 'Retry', attrs: { type: 'button' } });
      const key = message.key;
      const conversationId = message.conversationId;
      retry.addEventListener('click', () => void this.client.retry(conversationId, key));
      status.after(retry);
    } else if (message.status !== 'failed' && retry) {
      retry.remove();
    }
  }

  private renderHistoryStatus(): void {
    const conversationId = this.active;
    const element = byId('history-status');
    if (!conversationId) return;
    const hasOlder = this.client.hasOlder(conversationId);
    const empty = this.client.messages(conversationId).length === 0;
    setText(element, this.loadingOlder ? 'Loading older messages…' : hasOlder === false ? (empty ? 'No messages yet: say hello.' : 'Beginning of the conversation') : '');
    element.dataset.complete = String(hasOlder === false);
  }

  private renderTyping(): void {
    const slot = byId('typing-slot');
    const users = this.active ? this.client.typingUsers(this.active) : [];
    let indicator = slot.querySelector<HTMLElement>('[data-testid="typing-indicator"]');
    if (users.length === 0) {
      indicator?.remove();
      return;
    }
    if (!indicator) {
      indicator = h('div', { class: 'typing', testid: 'typing-indicator', attrs: { 'aria-live': 'polite' } });
      slot.append(indicator);
    }
    setText(indicator, `${users.join(', ')} ${users.length > 1 ? 'are' : 'is'} typing…`);
  }

  /** Messages count as read while their conversation is open and the page is visible. */
  private updateVisibility(): void {
    if (this.active) this.client.setConversationVisible(this.active, document.visibilityState === 'visible');
  }

  // ---- connection and errors --------------------------------------------------------------

  private renderConnection(state: ConnectionState, error?: MessagingError): void {
    const badge = byId('connection');
    setText(badge, CONNECTION_LABEL[state]);
    badge.dataset.state = state;
    if (state === 'connected') {
      this.clearError('connection');
      this.clearError('startup');
    } else if (error && state !== 'closed') {
      this.showError(error.code === 'UNAUTHENTICATED' ? describe(error) : `Not connected to the server: ${error.message}. Reconnecting…`, 'connection');
    }
  }

  /** Shows an error until dismissed; one with a key replaces the previous one with that key. */
  private showError(text: string, key?: string): void {
    const container = byId('errors');
    const dismiss = h('button', { text: 'Dismiss', attrs: { type: 'button' } });
    const element = h('div', { class: 'error', testid: 'error' }, h('span', { text }), dismiss);
    dismiss.addEventListener('click', () => {
      element.remove();
      if (key && this.errors.get(key) === element) this.errors.delete(key);
    });
    if (key) {
      this.errors.get(key)?.remove();
      this.errors.set(key, element);
    }
    container.append(element);
    while (container.children.length > MAX_VISIBLE_ERRORS) container.firstElementChild?.remove();
  }

  private clearError(key: string): void {
    this.errors.get(key)?.remove();
    this.errors.delete(key);
  }
}

function showSignIn(): void {
  byId('signin').hidden = false;
  setText(byId('connection'), 'signed out');
  byId<HTMLFormElement>('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = byId<HTMLInputElement>('signin-token').value.trim();
    if (token) location.search = `?token=${encodeURIComponent(token)}`;
  });
}

function main(): void {
  const token = new URLSearchParams(location.search).get('token');
  if (!token) {
    showSignIn();
    return;
  }
  let client: MessagingClient;
  try {
    client = new MessagingClient({ token });
    void client.userId;
  } catch {
    showSignIn();
    const errors = byId('errors');
    errors.append(h('div', { class: 'error', testid: 'error' }, h('span', { text: 'That sign-in link has no valid token. Open a fresh one (npm start prints them).' })));
    return;
  }
  void new DemoApp(client).start();
}

main();
