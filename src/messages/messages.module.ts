import { Module } from '@nestjs/common';
import { ConversationsModule } from '../conversations/conversations.module.js';
import { PrismaModule } from '../infrastructure/prisma/prisma.module.js';
import { TypingService } from '../typing/typing.service.js';
import { MessagesRepository } from './messages.repository.js';
import { MessagesService } from './messages.service.js';

/** Messages, receipts and typing. Needs a REALTIME_NOTIFIER provider (the websocket layer's, global). */
@Module({
  imports: [ConversationsModule, PrismaModule],
  providers: [MessagesRepository, MessagesService, TypingService],
  exports: [MessagesService, TypingService, ConversationsModule],
})
export class MessagesModule {}
