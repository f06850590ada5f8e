import { Module } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import { JwtVerifier } from './jwt-verifier.js';

/** Token verification, for the transports that authenticate (Socket.IO, gRPC): they import it. */
@Module({
  providers: [{ provide: JwtVerifier, useFactory: (config: AppConfig) => new JwtVerifier(config.jwt), inject: [APP_CONFIG] }],
  exports: [JwtVerifier],
})
export class AuthModule {}

