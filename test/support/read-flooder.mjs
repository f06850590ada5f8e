// Clients flooding reads from a process of their own, so that their CPU is not the test process's
// (where the service and the measured sender run): one socket per user, and one gRPC channel as
// the first user. It prints {"ready":true} once connected; on SIGUSR1 every socket fires
// SOCKET_READS getMessageHistory events of its conversation and the channel GRPC_READS
// GetMessageHistory calls, all at once; it waits for every answer, prints the answers' codes as
// one JSON line and exits.
//
// Environment: URL, GRPC_ADDRESS, TOKENS and CONVERSATION_IDS (comma-separated, one per user),
// SOCKET_READS, GRPC_READS.
import { credentials, loadPackageDefinition, Metadata } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { io } from 'socket.io-client';

const { URL: url, GRPC_ADDRESS: grpcAddress } = process.env;
const tokens = process.env.TOKENS.split(',');
const conversationIds = process.env.CONVERSATION_IDS.split(',');
const proto = loadPackageDefinition(loadSync(new URL('../../proto/messaging/v1/messaging.proto', import.meta.url).pathname, { longs: Number, defaults: false }));
const grpc = new proto.messaging.v1.MessagingService(grpcAddress, credentials.createInsecure());
const metadata = new Metadata();
metadata.set('authorization', `Bearer ${tokens[0]}`);

const sockets = await Promise.all(
  tokens.map((token) => {
    const socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', reject);
    });
  }),
);
await new Promise((resolve, reject) => grpc.waitForReady(Date.now() + 5000, (error) => (error ? reject(error) : resolve())));
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
await new Promise((resolve) => process.once('SIGUSR1', resolve));

const socketReads = sockets.flatMap((socket, index) =>
  Array.from({ length: Number(process.env.SOCKET_READS) }, () =>
    socket
      .timeout(30_000)
      .emitWithAck('getMessageHistory', { conversationId: conversationIds[index], pageSize: 100 })
      .then((result) => (result.ok ? 'ok' : result.error.code), () => 'unanswered'),
  ),
);
const grpcReads = Array.from(
  { length: Number(process.env.GRPC_READS) },
  () =>
    new Promise((resolve) =>
      grpc.getMessageHistory({ conversationId: conversationIds[0], pageSize: 100 }, metadata, (error) => resolve(error ? `grpc ${error.code}` : 'ok')),
    ),
);
const count = (codes) => codes.reduce((counts, code) => ({ ...counts, [code]: (counts[code] ?? 0) + 1 }), {});
process.stdout.write(`${JSON.stringify({ socket: count(await Promise.all(socketReads)), grpc: count(await Promise.all(grpcReads)) })}\n`);
for (const socket of sockets) socket.close();
grpc.close();
process.exit(0);
