import { Inject, Injectable } from '@nestjs/common';
import type { Actor } from '../contract/actor.js';
import type { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { RealtimeNotifier } from '../contract/realtime-notifier.port.js';
import type { Message, MessageDeliveredEvent, MessageReadEvent, TypingEvent } from '@platform/messaging-client/contract';
import { userRoom, type MessagingServer } from './socket-types.js';

/**
 * Delivers domain events to user rooms. Rooms span instances through the Socket.IO adapter, so
 * this is the only place that decides who hears what (CONTRACT §3.2).
 */
@Injectable()
export class SocketNotifier implements RealtimeNotifier {
  private server?: MessagingServer;
  /**
   * On a Redis Cluster, an event for two users goes out as one broadcast per user room: the
   * sharded adapter gives a room of its own shard channel only to single-room broadcasts, and a
   * two-room one would go to the namespace's one channel, heard by every instance through one
   * master (the ceiling sharding is there to lift). On one Redis, one broadcast costs one publish.
   */
  private readonly perRoom: boolean;

  constructor(@Inject(APP_CONFIG) config: Pick<AppConfig, 'redisClusterUrls'>) {
    this.perRoom = config.redisClusterUrls !== undefined;
  }

  attach(server: MessagingServer): void {
    this.server = server;
  }

  newMessage(message: Message, recipientId: string, origin: Actor): void {
    for (const target of this.toUsersExceptOrigin([recipientId, origin.userId], origin)) target?.emit('newMessage', message);
  }

  messageDelivered(senderId: string, event: MessageDeliveredEvent): void {
    this.server?.to(userRoom(senderId)).emit('messageDelivered', event);
  }

  messageRead(senderId: string, event: MessageReadEvent, origin: Actor): void {
    for (const target of this.toUsersExceptOrigin([senderId, origin.userId], origin)) target?.emit('messageRead', event);
  }

  typing(toUserId: string, event: TypingEvent): void {
    this.server?.to(userRoom(toUserId)).emit('typing', event);
  }

  typingStopped(toUserId: string, event: TypingEvent): void {
    this.server?.to(userRoom(toUserId)).emit('typingStopped', event);
  }

  /** Each socket is in its own user's room only, so one broadcast per room reaches each socket once. */
  private toUsersExceptOrigin(userIds: string[], origin: Actor) {
    const rooms = [...new Set(userIds)].map(userRoom);
    return (this.perRoom ? rooms.map((room) => [room]) : [rooms]).map((target) => {
      const operator = this.server?.to(target);
      return origin.socketId ? operator?.except(origin.socketId) : operator;
    });
  }
}
