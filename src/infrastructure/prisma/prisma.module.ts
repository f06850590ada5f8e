import { Module } from '@nestjs/common';
import { PrismaService } from './prisma.service.js';
import { HotSql } from './hot-sql.js';
import { ReadSql } from './read-sql.js';

/** The database: imported by the modules whose repositories query it, and by readiness. */
@Module({ providers: [PrismaService, HotSql, ReadSql], exports: [PrismaService, HotSql, ReadSql] })
export class PrismaModule {}
