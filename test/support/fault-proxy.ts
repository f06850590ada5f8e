import net from 'node:net';

/**
 * A TCP proxy for network faults (TOOLCHAIN.md: no Toxiproxy, no tc netem here). Put it between a
 * client and a server (the service and PostgreSQL, a Socket.IO client and the service, the service
 * and the Connections service) and turn faults on and off while traffic flows:
 *
 * - `delayMs`: every chunk, both ways, is held this long (order kept);
 * - `blackhole(direction)`: bytes stop flowing and are held, as over a partition that TCP keeps
 *   retransmitting across: they flow again, in order, on `pass()`, or are lost on `cut()`. New
 *   connections are accepted but reach nothing until then;
 * - `cut()`: every open connection is reset (RST to both ends), once;
 * - `refuseNew(true)`: new connections are reset as soon as they are accepted;
 * - `down()` / `up()`: the port closes (connection refused) and every open connection is reset;
 *   `up()` listens on the same port again.
 *
 * The upstream may move (`target`), for a server restarted on another port.
 */
export type Direction = 'up' | 'down' | 'both';

export interface FaultProxy {
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  target: { host: string; port: number };
  delayMs: number;
  blackhole(direction?: Direction): void;
  pass(): void;
  cut(): void;
  refuseNew(on: boolean): void;
  down(): Promise<void>;
  up(): Promise<void>;
  /** Connections open now (client side). */
  readonly openConnections: number;
  /** Connections accepted since start. */
  readonly accepted: number;
  /** Bytes forwarded client→server and server→client. */
  readonly bytes: { up: number; down: number };
  close(): Promise<void>;
}

interface Held {
  chunk: Buffer;
  at: number;
}

/** One direction of one connection: a FIFO that honours the delay and the blackhole. */
class Pipe {
  private readonly queue: Held[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly to: () => net.Socket | undefined,
    private readonly held: () => boolean,
    private readonly delay: () => number,
    private readonly count: (bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    this.queue.push({ chunk, at: performance.now() });
    this.pump();
  }

  pump(): void {
    if (this.timer) return;
    const target = this.to();
    while (this.queue.length > 0 && !this.held() && target && !target.destroyed) {
      const head = this.queue[0]!;
      const wait = head.at + this.delay() - performance.now();
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, wait);
        return;
      }
      this.queue.shift();
      this.count(head.chunk.length);
      target.write(head.chunk);
    }
  }

  /** Re-reads the delay and the blackhole at once (a timer may be waiting on the old delay). */
  kick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pump();
  }

  drop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

interface Connection {
  client: net.Socket;
  server?: net.Socket;
  up: Pipe;
  down: Pipe;
}

export async function startFaultProxy(target: { host?: string; port: number }, options: { port?: number } = {}): Promise<FaultProxy> {
  const state = {
    target: { host: target.host ?? '127.0.0.1', port: target.port },
    delayMs: 0,
    holdUp: false,
    holdDown: false,
    refusing: false,
    accepted: 0,
    bytes: { up: 0, down: 0 },
  };
  const connections = new Set<Connection>();

  const reset = (socket: net.Socket | undefined) => {
    if (socket && !socket.destroyed) socket.resetAndDestroy();
  };
  const drop = (connection: Connection) => {
    if (!connections.delete(connection)) return;
    connection.up.drop();
    connection.down.drop();
  };
  const connectUpstream = (connection: Connection) => {
    if (connection.server || connection.client.destroyed) return;
    const server = net.connect(state.target.port, state.target.host);
    connection.server = server;
    server.setNoDelay(true);
    server.on('connect', () => connection.up.pump());
    server.on('data', (chunk: Buffer) => connection.down.push(chunk));
    // The upstream went away: so does the client, abruptly if it failed, in order if it ended.
    server.on('error', () => {
      drop(connection);
      reset(connection.client);
    });
    server.on('end', () => {
      if (!state.holdDown) connection.client.end();
    });
    server.on('close', () => {
      if (!state.holdDown && !connection.client.destroyed) connection.client.end();
    });
  };

  const server = net.createServer({ noDelay: true }, (client) => {
    state.accepted++;
    if (state.refusing) {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const connection: Connection = {
      client,
      up: new Pipe(
        () => (connection.server && !connection.server.connecting ? connection.server : undefined),
        () => state.holdUp,
        () => state.delayMs,
        (n) => (state.bytes.up += n),
      ),
      down: new Pipe(
        () => client,
        () => state.holdDown,
        () => state.delayMs,
        (n) => (state.bytes.down += n),
      ),
    };
    connections.add(connection);
    client.on('data', (chunk: Buffer) => connection.up.push(chunk));
    client.on('error', () => {
      drop(connection);
      reset(connection.server);
    });
    client.on('close', () => {
      drop(connection);
      connection.server?.end();
    });
    // Through a blackhole, a new connection reaches nothing until the link passes again.
    if (!state.holdUp) connectUpstream(connection);
  });
  server.on('error', () => undefined);

  let port = options.port ?? 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  await listen();

  const cutAll = () => {
    for (const connection of [...connections]) {
      drop(connection);
      reset(connection.client);
      reset(connection.server);
    }
  };

  return {
    get port() {
      return port;
    },
    get address() {
      return `127.0.0.1:${port}`;
    },
    get target() {
      return state.target;
    },
    set target(value) {
      state.target = { host: value.host, port: value.port };
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(value: number) {
      state.delayMs = value;
      for (const connection of connections) {
        connection.up.kick();
        connection.down.kick();
      }
    },
    blackhole(direction: Direction = 'both') {
      if (direction !== 'down') state.holdUp = true;
      if (direction !== 'up') state.holdDown = true;
    },
    pass() {
      state.holdUp = false;
      state.holdDown = false;
      for (const connection of connections) {
        connectUpstream(connection);
        connection.up.kick();
        connection.down.kick();
      }
    },
    cut: cutAll,
    refuseNew(on: boolean) {
      state.refusing = on;
    },
    async down() {
      cutAll();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async up() {
      if (!server.listening) await listen();
    },
    get openConnections() {
      return connections.size;
    },
    get accepted() {
      return state.accepted;
    },
    get bytes() {
      return { ...state.bytes };
    },
    async close() {
      cutAll();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
