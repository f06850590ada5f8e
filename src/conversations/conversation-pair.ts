import { compareCodePoints, type Conversation } from '@platform/messaging-client/contract';

/**
 * A conversation is stored once per unordered pair: the smaller id is always user A. Smaller in
 * code point order, which is the order of the columns' "C" collation that the table's CHECK
 * (user_a < user_b) uses, whatever the database's default collation.
 */
export function orderedPair(first: string, second: string): [string, string] {
  return compareCodePoints(first, second) < 0 ? [first, second] : [second, first];
}

export interface Participants {
  conversationId: string;
  userA: string;
  userB: string;
}

/** The other participant, or undefined when the user is not one of them. */
export function otherParticipant(participants: Participants, userId: string): string | undefined {
  if (participants.userA === userId) return participants.userB;
  if (participants.userB === userId) return participants.userA;
  return undefined;
}

/** The participants of a stored conversation, whose `participantIds` are its ordered pair [userA, userB]. */
export function participantsOf(conversation: Conversation): Participants {
  const [userA, userB] = conversation.participantIds;
  return { conversationId: conversation.conversationId, userA, userB };
}
