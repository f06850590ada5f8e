import { Global, Module } from '@nestjs/common';
import { REALTIME_NOTIFIER } from '../contract/realtime-notifier.port.js';
import { SocketNotifier } from './socket-notifier.js';

/** Provides the domain's RealtimeNotifier port over Socket.IO rooms; global for the reason ConnectionsModule is. */
@Global()
@Module({
  providers: [SocketNotifier, { provide: REALTIME_NOTIFIER, useExisting: SocketNotifier }],
  exports: [SocketNotifier, REALTIME_NOTIFIER],
})
export class RealtimeModule {}
