import { Injectable } from '@nestjs/common';
import type { Actor } from '../common/actor.js';
import type { RealtimeNotifier } from '../common/realtime-notifier.port.js';
import type { Message, MessageDeliveredEvent, MessageReadEvent, TypingEvent } from '@platform/messaging-client/contract';
import { userRoom, type MessagingServer } from './socket-types.js';

/**
 * Delivers domain events to user rooms. Rooms span instances through the Socket.IO adapter, so
 * this is the only place that decides who hears what (CONTRACT §3.2).
 */
@Injectable()
export class SocketNotifier implements RealtimeNotifier {
  private server?: MessagingServer;

  attach(server: MessagingServer): void {
    this.server = server;
  }

  newMessage(message: Message, recipientId: string, origin: Actor): void {
    this.toUsersExceptOrigin([recipientId, origin.userId], origin)?.emit('newMessage', message);
  }

  messageDelivered(senderId: string, event: MessageDeliveredEvent): void {
    this.server?.to(userRoom(senderId)).emit('messageDelivered', event);
  }

  messageRead(senderId: string, event: MessageReadEvent, origin: Actor): void {
    this.toUsersExceptOrigin([senderId, origin.userId], origin)?.emit('messageRead', event);
  }

  typing(toUserId: string, event: TypingEvent): void {
    this.server?.to(userRoom(toUserId)).emit('typing', event);
  }

  typingStopped(toUserId: string, event: TypingEvent): void {
    this.server?.to(userRoom(toUserId)).emit('typingStopped', event);
  }

  private toUsersExceptOrigin(userIds: string[], origin: Actor) {
    const target = this.server?.to(userIds.map(userRoom));
    return origin.socketId ? target?.except(origin.socketId) : target;
  }
}
