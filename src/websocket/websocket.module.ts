import { Module } from '@nestjs/common';
import { MessagesModule } from '../messages/messages.module.js';
import { MessagingGateway } from './messaging.gateway.js';

@Module({ imports: [MessagesModule], providers: [MessagingGateway] })
export class WebsocketModule {}
