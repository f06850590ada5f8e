/**
 * The layer rules (docs/design.md): the domain in the middle, transports and infrastructure at the
 * edge, dependencies pointing inward only.
 */
const DOMAIN = '^(src/(admission|contract|conversations|messages|typing)|packages/client/src/contract)/';
const TRANSPORTS = '^src/(websocket|grpc|http)/';
/** The call pipeline the transports share (src/transport/): at the edge with them, but no transport itself. */
const SHARED_TRANSPORT = '^src/transport/';

module.exports = {
  forbidden: [
    {
      name: 'domain-stays-inward',
      comment: 'The domain knows ports, not transports, Connections clients, auth or the embedded parts.',
      severity: 'error',
      from: { path: DOMAIN },
      to: { path: '^src/(websocket|grpc|http|transport|connections|auth|demo|infrastructure/(embedded|redis|cache|lifecycle))/' },
    },
    {
      name: 'prisma-only-in-repositories',
      comment: 'Queries live in repositories (and the infrastructure that owns the client); Nest modules may import the module that provides it.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['\\.repository\\.ts$', '\\.module\\.ts$', '^src/infrastructure/', '^src/(bootstrap|app\\.module)\\.ts$', '^src/cli/', '^src/http/readiness\\.service\\.ts$'] },
      // driver-errors.ts runs no query: it reads what the drivers throw, for the transports' one mapping to AppError.
      to: { path: '^src/(infrastructure/prisma|generated/prisma)/', pathNot: '^src/infrastructure/prisma/driver-errors\\.ts$' },
    },
    {
      name: 'shared-transport-knows-no-transport',
      comment: 'Each transport brings its own binding to the call pipeline; the pipeline names none of them. Transports may import it.',
      severity: 'error',
      from: { path: SHARED_TRANSPORT },
      to: { path: TRANSPORTS },
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
      to: { path: [TRANSPORTS, SHARED_TRANSPORT] },
    },
    {
      name: 'client-package-is-server-free',
      comment: 'The client package (packages/client) runs in browsers and installs on its own: nothing of the service, no server-side library.',
      severity: 'error',
      from: { path: '^packages/client/' },
      to: { path: ['^src/', '^test/', 'node_modules/(@nestjs|@prisma|prisma|pg|ioredis|@grpc|@socket\\.io/redis|socket\\.io/|pino|jose|opossum|@opentelemetry)'] },
    },
    {
      name: 'client-contract-is-standalone',
      comment: 'The contract (schemas, shapes, error codes) is what the service shares: it knows nothing of the client built on it.',
      severity: 'error',
      from: { path: '^packages/client/src/contract/' },
      to: { path: '^packages/client/src/', pathNot: '^packages/client/src/contract/' },
    },
    {
      name: 'service-uses-only-the-contract',
      comment: 'The service imports the package\'s contract (@platform/messaging-client/contract), never the client itself.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/demo/' },
      to: { path: '^packages/client/', pathNot: '^packages/client/src/contract/' },
    },
    {
      name: 'demo-is-a-client-app',
      comment: 'The demo page is built as a user\'s app would be: on the package only.',
      severity: 'error',
      from: { path: '^src/demo/' },
      to: { path: '^src/', pathNot: '^src/demo/' },
    },
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/generated/' },
    tsPreCompilationDeps: true,
    // The workspace package resolves to its sources (its "@platform/source" export condition), so
    // the rules see which of its files the service imports.
    tsConfig: { fileName: 'tsconfig.check.json' },
    enhancedResolveOptions: { conditionNames: ['@platform/source', 'import', 'types', 'default'], exportsFields: ['exports'] },
  },
};
