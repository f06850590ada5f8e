export interface TestRedisCluster {
  nodes: { port: number; url: string }[];
  urls: string[];
  /** The value for REDIS_CLUSTER_URLS: every node as a seed. */
  seeds: string;
  dir: string;
  /** Process ids of the live nodes (for CPU accounting). */
  pids(): number[];
  /** Ports of the live masters, as the first live node sees the cluster. */
  masters(): Promise<number[]>;
  /** The port of the master serving `key`'s slot. */
  masterOf(key: string): Promise<number>;
  /** Kills one node (SIGKILL by default) and waits until its process is gone. */
  kill(port: number, signal?: NodeJS.Signals): Promise<void>;
  /** Sends a signal without waiting (SIGSTOP / SIGCONT freeze and thaw a node). */
  signal(port: number, signal: NodeJS.Signals): void;
  /** Every live node says cluster_state:ok and sees all masters up, every live node connected. */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export function redisServerVersion(): Promise<[number, number, number]>;

export function startRedisCluster(options?: { masters?: number; replicasPerMaster?: number; nodeTimeoutMs?: number }): Promise<TestRedisCluster>;
