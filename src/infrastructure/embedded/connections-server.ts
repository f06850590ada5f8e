import { loadPackageDefinition, Server, ServerCredentials, status } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../../generated/proto/connections.js';
import type { ConnectionsServiceHandlers } from '../../generated/proto/connections/v1/ConnectionsService.js';
import { protoPath } from '../proto-path.js';
import type { ConnectionsGraph } from './connections-graph.js';

export interface ConnectionsServerControls {
  /** Delay before each answer, to play a slow service. */
  delayMs: number;
  /** Fraction of calls answered with UNAVAILABLE, to play a flaky service. */
  failureRate: number;
}

export interface RunningConnectionsServer {
  url: string;
  port: number;
  readonly controls: ConnectionsServerControls;
  /** IsConnected calls received so far. */
  readonly calls: number;
  stop(): Promise<void>;
}

/**
 * A real connections.v1 gRPC server answering from a graph. It is the embedded development
 * Connections service of `npm start`, and the service the tests control.
 */
export async function startConnectionsServer(
  graph: ConnectionsGraph,
  options: { host?: string; port?: number } = {},
): Promise<RunningConnectionsServer> {
  const definition = loadSync(protoPath('connections/v1/connections.proto'), { longs: Number, enums: String });
  const proto = loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  const controls: ConnectionsServerControls = { delayMs: 0, failureRate: 0 };
  let calls = 0;
  const handlers: ConnectionsServiceHandlers = {
    IsConnected(call, callback) {
      calls++;
      const answer = () => {
        if (controls.failureRate > 0 && Math.random() < controls.failureRate) {
          callback({ code: status.UNAVAILABLE, details: 'injected failure' });
          return;
        }
        callback(null, { areConnected: graph.areConnected(call.request.userIdA ?? '', call.request.userIdB ?? '') });
      };
      if (controls.delayMs > 0) setTimeout(answer, controls.delayMs);
      else answer();
    },
  };
  const server = new Server();
  server.addService(proto.connections.v1.ConnectionsService.service, handlers);
  const host = options.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${options.port ?? 0}`, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    url: `${host}:${port}`,
    port,
    controls,
    get calls() {
      return calls;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}
