import { writeFileSync } from 'node:fs';
import { buildAsyncApi } from '../contract/asyncapi.js';

/** `npm run asyncapi`: writes docs/asyncapi.json from the contract's zod schemas (src/contract/asyncapi.ts). */
const target = process.argv[2] ?? 'docs/asyncapi.json';
writeFileSync(target, `${JSON.stringify(buildAsyncApi(), null, 2)}\n`);
console.log(`wrote ${target}`);
