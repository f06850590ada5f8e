// Generates the code derived from source-of-truth files: TypeScript types from proto/ and the
// Prisma client from prisma/schema.prisma. Output goes to src/generated (not committed).
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

const bin = (name) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
const run = (cmd, args) => execFileSync(bin(cmd), args, { stdio: ['ignore', 'ignore', 'inherit'] });

rmSync('src/generated/proto', { recursive: true, force: true });
run('proto-loader-gen-types', [
  '--longs=Number', '--enums=String', '--arrays', '--oneofs',
  '--grpcLib=@grpc/grpc-js', '--importFileExtension=.js',
  '-I', 'proto', '-O', 'src/generated/proto',
  'messaging/v1/messaging.proto', 'connections/v1/connections.proto', 'grpc/health/v1/health.proto',
]);
run('prisma', ['generate']);
