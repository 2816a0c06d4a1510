# Image for the governance worker and the demo app worker (see docker-compose.yml).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY interceptors ./interceptors
COPY activities ./activities
COPY workflows ./workflows
COPY examples ./examples
RUN mkdir -p /keys /trust && chown node:node /keys /trust
USER node
ENTRYPOINT ["npx", "ts-node", "--transpile-only", "src/cli/main.ts"]
