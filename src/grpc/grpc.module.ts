import { Module } from '@nestjs/common';
import { MessagesModule } from '../messages/messages.module.js';
import { GrpcCall } from './grpc-call.js';
import { MessagingGrpcController } from './messaging.grpc-controller.js';

@Module({ imports: [MessagesModule], controllers: [MessagingGrpcController], providers: [GrpcCall] })
export class GrpcTransportModule {}
