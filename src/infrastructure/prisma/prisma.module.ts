import { Global, Module } from '@nestjs/common';
import { PrismaService } from './prisma.service.js';
import { HotSql } from './hot-sql.js';

@Global()
@Module({ providers: [PrismaService, HotSql], exports: [PrismaService, HotSql] })
export class PrismaModule {}
