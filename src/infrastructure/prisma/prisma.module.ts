import { Global, Module } from '@nestjs/common';
import { PrismaService } from './prisma.service.js';
import { HotSql } from './hot-sql.js';
import { ReadSql } from './read-sql.js';

@Global()
@Module({ providers: [PrismaService, HotSql, ReadSql], exports: [PrismaService, HotSql, ReadSql] })
export class PrismaModule {}
