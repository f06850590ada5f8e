/**
 * React bindings: `import { MessagingProvider, useMessages } from '@platform/messaging-client/react'`.
 * Every hook reads the client's snapshots through `useSyncExternalStore`; a snapshot keeps its
 * identity until its data changes, so a component renders again only when what it shows changed.
 * React (≥ 18) is an optional peer dependency of the package: only this entry point needs it.
 */
import { createContext, createElement, useCallback, useContext, useEffect, useState, useSyncExternalStore, type ReactNode } from 'react';
import type { ConversationSummary } from '../contract/models.js';
import type { ConnectionState } from '../connection.js';
import type { ChatMessage } from '../conversation-store.js';
import { toMessagingError, type MessagingError } from '../errors.js';
import type { MessagingClient } from '../messaging-client.js';

const ClientContext = createContext<MessagingClient | null>(null);

export interface MessagingProviderProps {
  /** The app's one client; the provider neither connects nor closes it. */
  client: MessagingClient;
  children?: ReactNode;
}

/** Makes `client` available to the hooks below it. */
export function MessagingProvider({ client, children }: MessagingProviderProps): ReactNode {
  return createElement(ClientContext.Provider, { value: client }, children);
}

/** The client of the nearest MessagingProvider. */
export function useMessagingClient(): MessagingClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useMessagingClient: no <MessagingProvider client={…}> above this component');
  return client;
}

/** The connection state and, while not connected, why. */
export function useConnectionState(): { state: ConnectionState; error: MessagingError | undefined } {
  const client = useMessagingClient();
  const subscribe = useCallback((onChange: () => void) => client.on('connection', onChange), [client]);
  const state = useSyncExternalStore(subscribe, () => client.state, () => client.state);
  const error = useSyncExternalStore(subscribe, () => client.connectionError, () => client.connectionError);
  return { state, error };
}

export interface ConversationsView {
  /** Most recent activity first; the same array until the list changes. */
  conversations: readonly ConversationSummary[];
  /** True until the first load from the server finished. */
  loading: boolean;
  /** Why the last load failed. */
  error: MessagingError | undefined;
  /** Loads the list again. */
  reload(): void;
}

/** The conversation list, loaded on mount (it then stays current by itself). */
export function useConversations(): ConversationsView {
  const client = useMessagingClient();
  const subscribe = useCallback((onChange: () => void) => client.on('conversations', onChange), [client]);
  const conversations = useSyncExternalStore(subscribe, () => client.conversations(), () => client.conversations());
  const [load, setLoad] = useState<{ loading: boolean; error?: MessagingError; round: number }>({ loading: true, round: 0 });
  useEffect(() => {
    let current = true;
    client.loadConversations().then(
      () => current && setLoad((previous) => ({ loading: false, round: previous.round })),
      (error: unknown) => current && setLoad((previous) => ({ loading: false, error: toMessagingError(error), round: previous.round })),
    );
    return () => {
      current = false;
    };
  }, [client, load.round]);
  const reload = useCallback(() => setLoad((previous) => ({ loading: true, round: previous.round + 1 })), []);
  return { conversations, loading: load.loading, error: load.error, reload };
}

/** One conversation's summary (last message, unread count), or undefined while not in the list. */
export function useConversation(conversationId: string | undefined): ConversationSummary | undefined {
  const client = useMessagingClient();
  const subscribe = useCallback((onChange: () => void) => client.on('conversations', onChange), [client]);
  const get = () => (conversationId === undefined ? undefined : client.conversation(conversationId));
  return useSyncExternalStore(subscribe, get, get);
}

export interface MessagesOptions {
  /**
   * Whether the user sees the conversation now (default true): while it is, its messages are
   * marked read. Pass `document.visibilityState === 'visible'` and the like.
   */
  visible?: boolean;
}

export interface MessagesView {
  /** In seq order, our sends in flight last, each with its `status`; the same array until it changes. */
  messages: readonly ChatMessage[];
  /** undefined until the first page arrived; then whether older messages exist. */
  hasOlder: boolean | undefined;
  loadingOlder: boolean;
  /** Why the last history load failed. */
  error: MessagingError | undefined;
  /** Loads the page above the oldest message (scroll-back). */
  loadOlder(): Promise<void>;
  /** Sends a message (never rejects: a failed one has status `failed` and can be retried). */
  send(text: string): Promise<ChatMessage>;
  retry(key: string): Promise<ChatMessage>;
  discard(key: string): boolean;
}

/**
 * One conversation's messages: the newest page is loaded on mount, new ones arrive live, older
 * ones through `loadOlder()`. While mounted and `visible`, the conversation counts as on screen
 * (its messages are marked read).
 */
export function useMessages(conversationId: string, options: MessagesOptions = {}): MessagesView {
  const client = useMessagingClient();
  const visible = options.visible ?? true;
  const subscribe = useCallback(
    (onChange: () => void) => client.on('messages', (changed) => changed === conversationId && onChange()),
    [client, conversationId],
  );
  const messages = useSyncExternalStore(subscribe, () => client.messages(conversationId), () => client.messages(conversationId));
  const hasOlder = useSyncExternalStore(subscribe, () => client.hasOlder(conversationId), () => client.hasOlder(conversationId));
  const [error, setError] = useState<MessagingError>();
  const [loadingOlder, setLoadingOlder] = useState(false);

  useEffect(() => {
    let current = true;
    setError(undefined);
    client.loadLatest(conversationId).catch((caught: unknown) => current && setError(toMessagingError(caught)));
    return () => {
      current = false;
    };
  }, [client, conversationId]);

  useEffect(() => {
    client.setConversationVisible(conversationId, visible);
    return () => client.setConversationVisible(conversationId, false);
  }, [client, conversationId, visible]);

  const loadOlder = useCallback(async () => {
    setLoadingOlder(true);
    try {
      await client.loadOlder(conversationId);
    } catch (caught) {
      setError(toMessagingError(caught));
    } finally {
      setLoadingOlder(false);
    }
  }, [client, conversationId]);
  const send = useCallback((text: string) => client.send(conversationId, text), [client, conversationId]);
  const retry = useCallback((key: string) => client.retry(conversationId, key), [client, conversationId]);
  const discard = useCallback((key: string) => client.discard(conversationId, key), [client, conversationId]);
  return { messages, hasOlder, loadingOlder, error, loadOlder, send, retry, discard };
}

export interface TypingView {
  /** Who else is typing in the conversation; the same array until it changes. */
  typingUsers: readonly string[];
  /** Call on every keystroke of the composer (throttled inside). */
  notifyTyping(): void;
  /** The composer was cleared or left. */
  stopTyping(): void;
}

/** The typing indicator of a conversation, both ways. */
export function useTyping(conversationId: string): TypingView {
  const client = useMessagingClient();
  const subscribe = useCallback(
    (onChange: () => void) => client.on('typing', (changed) => changed === conversationId && onChange()),
    [client, conversationId],
  );
  const typingUsers = useSyncExternalStore(subscribe, () => client.typingUsers(conversationId), () => client.typingUsers(conversationId));
  const notifyTyping = useCallback(() => client.notifyTyping(conversationId), [client, conversationId]);
  const stopTyping = useCallback(() => client.stopTyping(conversationId), [client, conversationId]);
  return { typingUsers, notifyTyping, stopTyping };
}

