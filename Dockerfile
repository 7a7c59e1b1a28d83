# syntax=docker/dockerfile:1
# Gatehouse image: Node 24 runs src/*.ts directly (type stripping), so there is no build step;
# the first stage only installs production dependencies.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
COPY config ./config
# The audit spool must survive restarts: point audit.spool_dir at /var/lib/gatehouse/spool.
RUN mkdir -p /var/lib/gatehouse/spool && chown -R node:node /var/lib/gatehouse
# Mount the real config here (and secrets it references with ${file:...}).
VOLUME ["/etc/gatehouse", "/var/lib/gatehouse"]
USER node
EXPOSE 4180 4181
# The admin listener answers /healthz; keep admin.listen on 127.0.0.1:4181 or 0.0.0.0:4181.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:4181/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "src/main.ts"]
CMD ["start", "--config", "/etc/gatehouse/gatehouse.yaml"]
