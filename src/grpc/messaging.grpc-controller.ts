import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { listConversationsSchema, messageHistorySchema, startConversationSchema } from '@platform/messaging-client/contract';
import { ConversationsService } from '../conversations/conversations.service.js';
import type { Conversation } from '../generated/proto/messaging/v1/Conversation.js';
import type { HistoryResponse } from '../generated/proto/messaging/v1/HistoryResponse.js';
import type { ListConversationsResponse } from '../generated/proto/messaging/v1/ListConversationsResponse.js';
import { MessagesService } from '../messages/messages.service.js';
import { GrpcCall } from './grpc-call.js';

/**
 * messaging.v1.MessagingService (CONTRACT §4). The domain's shapes are the proto messages in
 * camelCase, so results pass through as they are; proto-loader drops fields the proto lacks.
 */
@Controller()
export class MessagingGrpcController {
  constructor(
    private readonly call: GrpcCall,
    private readonly conversations: ConversationsService,
    private readonly messages: MessagesService,
  ) {}

  @GrpcMethod('MessagingService', 'GetMessageHistory')
  getMessageHistory(request: unknown, metadata: Metadata): Promise<HistoryResponse> {
    return this.call.run('GetMessageHistory', metadata, messageHistorySchema, request, async (actor, dto) => {
      const page = await this.messages.history(actor, dto);
      return { messages: page.items, nextCursor: page.nextCursor };
    });
  }

  @GrpcMethod('MessagingService', 'ListConversations')
  listConversations(request: unknown, metadata: Metadata): Promise<ListConversationsResponse> {
    return this.call.run('ListConversations', metadata, listConversationsSchema, request, async (actor, dto) => {
      const page = await this.conversations.list(actor, dto);
      return { conversations: page.items, nextCursor: page.nextCursor };
    });
  }

  @GrpcMethod('MessagingService', 'CreateConversation')
  createConversation(request: unknown, metadata: Metadata): Promise<Conversation> {
    return this.call.run('CreateConversation', metadata, startConversationSchema, request, (actor, dto) => this.conversations.start(actor, { participantId: dto.participantId }));
  }
}
