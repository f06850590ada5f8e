import { Module } from '@nestjs/common';
import { DemoController } from './demo.controller.js';
import { HealthController } from './health.controller.js';
import { MetricsController } from './metrics.controller.js';
import { ReadinessService } from './readiness.service.js';

@Module({ controllers: [HealthController, MetricsController, DemoController], providers: [ReadinessService] })
export class HttpModule {}
