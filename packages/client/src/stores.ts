import { ConversationStore } from './conversation-store.js';

/** Every conversation's store, made on first use for the signed-in user. */
export class Stores {
  private readonly stores = new Map<string, ConversationStore>();

  constructor(private readonly selfId: () => string) {}

  for(conversationId: string): ConversationStore {
    let store = this.stores.get(conversationId);
    if (!store) this.stores.set(conversationId, (store = new ConversationStore(conversationId, this.selfId())));
    return store;
  }

  get(conversationId: string): ConversationStore | undefined {
    return this.stores.get(conversationId);
  }

  all(): IterableIterator<ConversationStore> {
    return this.stores.values();
  }
}
