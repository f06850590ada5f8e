/**
 * The layer rules (docs/design.md): the domain in the middle, transports and infrastructure at the
 * edge, dependencies pointing inward only.
 */
const DOMAIN = '^src/(common|contract|conversations|messages|typing)/';
const TRANSPORTS = '^src/(websocket|grpc|http)/';

module.exports = {
  forbidden: [
    {
      name: 'domain-stays-inward',
      comment: 'The domain knows ports, not transports, Connections clients, auth or the embedded parts.',
      severity: 'error',
      from: { path: DOMAIN },
      to: { path: '^src/(websocket|grpc|http|connections|auth|demo|sdk|infrastructure/(embedded|redis|cache|lifecycle))/' },
    },
    {
      name: 'prisma-only-in-repositories',
      comment: 'Queries live in repositories (and the infrastructure that owns the client).',
      severity: 'error',
      from: { path: '^src/', pathNot: ['\\.repository\\.ts$', '^src/infrastructure/', '^src/(bootstrap|app\\.module)\\.ts$', '^src/cli/', '^src/http/readiness\\.service\\.ts$'] },
      to: { path: '^src/(infrastructure/prisma|generated/prisma)/' },
    },
    {
      name: 'transports-do-not-import-each-other',
      severity: 'error',
      from: { path: '^src/(websocket)/' },
      to: { path: '^src/(grpc|http)/' },
    },
    {
      name: 'grpc-not-into-other-transports',
      severity: 'error',
      from: { path: '^src/grpc/' },
      to: { path: '^src/(websocket|http)/' },
    },
    {
      name: 'infrastructure-does-not-reach-up',
      severity: 'error',
      comment: 'Adapters may implement the domain\'s ports, but never call the transports.',
      from: { path: '^src/(infrastructure|config|connections|auth)/' },
      to: { path: TRANSPORTS },
    },
    {
      name: 'client-code-is-server-free',
      comment: 'The SDK and the demo page run in browsers: contract types only.',
      severity: 'error',
      from: { path: '^src/(sdk|demo)/' },
      to: { path: '^src/', pathNot: '^src/(sdk|demo|contract)/' },
    },
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/generated/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
