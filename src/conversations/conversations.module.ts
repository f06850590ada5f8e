import { Module } from '@nestjs/common';
import { ReadAdmission } from '../common/read-admission.js';
import { ConversationsRepository } from './conversations.repository.js';
import { ConversationsService } from './conversations.service.js';

/** Needs a CONNECTION_CHECKER provider from the edge (ConnectionsModule, global). */
@Module({ providers: [ConversationsRepository, ConversationsService, ReadAdmission], exports: [ConversationsService, ReadAdmission] })
export class ConversationsModule {}
