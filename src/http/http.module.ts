import { Module } from '@nestjs/common';
import { PrismaModule } from '../infrastructure/prisma/prisma.module.js';
import { RedisModule } from '../infrastructure/redis/redis.module.js';
import { DemoController } from './demo.controller.js';
import { HealthController } from './health.controller.js';
import { MetricsController } from './metrics.controller.js';
import { ReadinessService } from './readiness.service.js';

@Module({ imports: [PrismaModule, RedisModule], controllers: [HealthController, MetricsController, DemoController], providers: [ReadinessService] })
export class HttpModule {}
