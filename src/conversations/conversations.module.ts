import { Module } from '@nestjs/common';
import { ReadAdmission } from '../admission/read-admission.js';
import { PrismaModule } from '../infrastructure/prisma/prisma.module.js';
import { ConversationsRepository } from './conversations.repository.js';
import { ConversationsService } from './conversations.service.js';

/** Needs a CONNECTION_CHECKER provider from the edge (ConnectionsModule, global). */
@Module({ imports: [PrismaModule], providers: [ConversationsRepository, ConversationsService, ReadAdmission], exports: [ConversationsService, ReadAdmission] })
export class ConversationsModule {}
