import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's proto/ folder, from src/ (tests) and dist/ (the build) alike. */
const PROTO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../proto');

export function protoPath(relative: string): string {
  return path.join(PROTO_ROOT, relative);
}
