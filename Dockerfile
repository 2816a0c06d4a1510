# Image for the governance worker and the demo app worker (see docker-compose.yml).
# Stage 1 compiles the TypeScript; stage 2 carries only the compiled code and production
# dependencies (no TypeScript, ts-node or test tooling), and runs as the unprivileged `node` user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY interceptors ./interceptors
COPY activities ./activities
COPY workflows ./workflows
COPY examples ./examples
COPY bin ./bin
COPY tools/copy-assets.js ./tools/copy-assets.js
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
# The demo policy the compose governance worker loads (--policy=examples/payments/policy.yaml).
COPY --from=build /app/examples/payments/policy.yaml ./examples/payments/policy.yaml
RUN mkdir -p /keys /trust && chown node:node /keys /trust
USER node
ENTRYPOINT ["node", "bin/temporal-governance.js"]
