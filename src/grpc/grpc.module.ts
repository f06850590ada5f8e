import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { MessagesModule } from '../messages/messages.module.js';
import { GrpcCall } from './grpc-call.js';
import { MessagingGrpcController } from './messaging.grpc-controller.js';

@Module({ imports: [MessagesModule, AuthModule], controllers: [MessagingGrpcController], providers: [GrpcCall] })
export class GrpcTransportModule {}
