# syntax=docker/dockerfile:1
# The messaging service's image (docs/operations.md, "Deploying"). Three stages: the build with
# every dependency, the production dependencies alone, and the runtime with only what the process
# reads: dist/, the production node_modules, package.json ("type": "module"), the workspace package
# @platform/messaging-client (its package.json and dist/: the service imports its contract and
# node_modules links to it), proto/ (loaded at
# start by the gRPC server and client) and prisma/migrations/ (applied at start, and by the
# migration Job). test/deploy/image.spec.ts assembles exactly what the last stage copies and starts
# the service from it. No HEALTHCHECK: Kubernetes probes /health/live and /health/ready.

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
RUN npm ci --no-audit --no-fund
COPY packages/client ./packages/client
COPY tsconfig.json nest-cli.json .swcrc prisma.config.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY proto ./proto
COPY src ./src
RUN npm run build

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the process: it runs as the image's unprivileged `node` user.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/packages/client/dist ./packages/client/dist
COPY package.json ./
COPY packages/client/package.json ./packages/client/
COPY proto ./proto
COPY prisma/migrations ./prisma/migrations
USER node
EXPOSE 3000 50051
CMD ["node", "dist/main.js"]
