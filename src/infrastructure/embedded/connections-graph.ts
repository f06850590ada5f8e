/** An undirected graph of first-degree connections, for the development Connections service. */
export class ConnectionsGraph {
  private readonly pairs = new Set<string>();

  constructor(edges: ReadonlyArray<readonly [string, string]> = []) {
    for (const [a, b] of edges) this.connect(a, b);
  }

  connect(a: string, b: string): void {
    this.pairs.add(pairKey(a, b));
  }

  disconnect(a: string, b: string): void {
    this.pairs.delete(pairKey(a, b));
  }

  areConnected(a: string, b: string): boolean {
    return a !== b && this.pairs.has(pairKey(a, b));
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

export const DEMO_USERS = ['alice', 'bob', 'carol', 'dave'] as const;

/** alice–bob, alice–carol and bob–dave are connected; carol–dave are not. */
export const DEMO_CONNECTIONS: ReadonlyArray<readonly [string, string]> = [
  ['alice', 'bob'],
  ['alice', 'carol'],
  ['bob', 'dave'],
];
