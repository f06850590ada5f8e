import { Module } from '@nestjs/common';
import { ConversationsRepository } from './conversations.repository.js';
import { ConversationsService } from './conversations.service.js';

/** Needs a CONNECTION_CHECKER provider from the edge (ConnectionsModule, global). */
@Module({ providers: [ConversationsRepository, ConversationsService], exports: [ConversationsService] })
export class ConversationsModule {}
