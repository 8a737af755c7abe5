# syntax=docker/dockerfile:1
# One image for the API, the worker and the migrations; docker-compose.yml picks the command.
# The build stage compiles the TypeScript with tsc and bundles the workflows; the runtime stage
# has production packages (no compiler, test or embedded-database packages) and the compiled
# JavaScript only, and runs it with plain node.
# Node 24, the Active LTS (supported into 2028); Node 20 left support in April 2026. The code
# still runs on Node 20 (package.json engines, and what CI tests on) but the image must not.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# The project's npm: it honours package.json's allowScripts.
RUN npm install --global npm@11.19.1
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY workflows workflows
COPY activities activities
COPY migrations migrations
COPY scripts scripts
RUN npx tsc -p tsconfig.build.json
# The workflows bundled once, here: the worker loads this file (WORKFLOW_BUNDLE_PATH) instead of
# bundling at start, which takes seconds and leaves about 100 MB resident.
RUN node dist/scripts/bundle-workflows.js dist/workflow-bundle.js

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
ENV WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
WORKDIR /app
RUN npm install --global npm@11.19.1
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# API by default; the worker runs `node --max-old-space-size=256 dist/src/worker.js`, migrations
# `node dist/scripts/migrate.js`. Heap ceilings: src/dev/heap-limits.ts (checked by compose:check).
CMD ["node", "--max-old-space-size=512", "dist/src/server.js"]
