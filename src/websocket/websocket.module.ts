import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { MessagesModule } from '../messages/messages.module.js';
import { MessagingGateway } from './messaging.gateway.js';

@Module({ imports: [MessagesModule, AuthModule], providers: [MessagingGateway] })
export class WebsocketModule {}
