import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { listConversationsSchema, messageHistorySchema, startConversationSchema } from '@platform/messaging-client/contract';
import { ConversationsService } from '../conversations/conversations.service.js';
import type { Conversation } from '../generated/proto/messaging/v1/Conversation.js';
import type { HistoryResponse } from '../generated/proto/messaging/v1/HistoryResponse.js';
import type { ListConversationsResponse } from '../generated/proto/messaging/v1/ListConversationsResponse.js';
import { MessagesService } from '../messages/messages.service.js';
import { operation } from '../transport/call-pipeline.js';
import { pageResponse } from '../transport/page-response.js';
import { GrpcCall } from './grpc-call.js';

/**
 * messaging.v1.MessagingService (CONTRACT §4). The domain's shapes are the proto messages in
 * camelCase, so results pass through as they are; proto-loader drops fields the proto lacks.
 */
@Controller()
export class MessagingGrpcController {
  private readonly methods;

  constructor(
    private readonly call: GrpcCall,
    conversations: ConversationsService,
    messages: MessagesService,
  ) {
    this.methods = call.methods({
      GetMessageHistory: operation(messageHistorySchema, async (actor, dto): Promise<HistoryResponse> => pageResponse('messages', await messages.history(actor, dto))),
      ListConversations: operation(listConversationsSchema, async (actor, dto): Promise<ListConversationsResponse> => pageResponse('conversations', await conversations.list(actor, dto))),
      CreateConversation: operation(startConversationSchema, (actor, dto): Promise<Conversation> => conversations.start(actor, { participantId: dto.participantId })),
    });
  }

  @GrpcMethod('MessagingService', 'GetMessageHistory')
  getMessageHistory(request: unknown, metadata: Metadata): Promise<HistoryResponse> {
    return this.call.run(this.methods.GetMessageHistory, metadata, request);
  }

  @GrpcMethod('MessagingService', 'ListConversations')
  listConversations(request: unknown, metadata: Metadata): Promise<ListConversationsResponse> {
    return this.call.run(this.methods.ListConversations, metadata, request);
  }

  @GrpcMethod('MessagingService', 'CreateConversation')
  createConversation(request: unknown, metadata: Metadata): Promise<Conversation> {
    return this.call.run(this.methods.CreateConversation, metadata, request);
  }
}
