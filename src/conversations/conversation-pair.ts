/** A conversation is stored once per unordered pair: the smaller id is always user A. */
export function orderedPair(first: string, second: string): [string, string] {
  return first < second ? [first, second] : [second, first];
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
