import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Controller, Get, Inject, NotFoundException, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';

/**
 * dist/public, from src/http (tests) and dist/http (the build) alike: `npm run build` (or
 * `npm run build:demo`) writes it with scripts/build-demo.mjs.
 */
export const DEMO_ASSETS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/public');

const ASSETS: Record<string, string> = {
  'demo.js': 'text/javascript; charset=utf-8',
  'demo.js.map': 'application/json; charset=utf-8',
  'demo.css': 'text/css; charset=utf-8',
  'messaging-sdk.js': 'text/javascript; charset=utf-8',
  'messaging-sdk.js.map': 'application/json; charset=utf-8',
};

/**
 * Same-origin scripts, styles and sockets only: the page renders every text as text, and this
 * keeps it that way should that ever slip. No referrer: the URL carries the token.
 */
const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
};

/** The demo web client (CONTRACT §6): served when NODE_ENV is not production, or DEMO_UI=true. */
@Controller()
export class DemoController {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  @Get()
  async page(@Res() response: Response): Promise<void> {
    await this.send(response, 'index.html', 'text/html; charset=utf-8', PAGE_HEADERS);
  }

  @Get('demo/:file')
  async asset(@Param('file') file: string, @Res() response: Response): Promise<void> {
    const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    if (!type) throw new NotFoundException();
    await this.send(response, file, type, { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' });
  }

  private async send(response: Response, file: string, type: string, headers: Record<string, string>): Promise<void> {
    if (!this.config.demoUi) throw new NotFoundException();
    let body: Buffer;
    try {
      body = await readFile(path.join(DEMO_ASSETS_DIR, file));
    } catch (error) {
      // Only a missing file means "not built"; any other read error is a fault to report as one.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      response.status(503).type('text/plain').send('The demo client is not built: run `npm run build` (or `npm run build:demo`).\n');
      return;
    }
    response.status(200).set({ ...headers, 'Content-Type': type }).send(body);
  }
}
