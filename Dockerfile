# Latchkey's image: the server with its pages, production dependencies only, as a non-root user.
#   docker build -t latchkey .
#   docker run -p 3000:3000 -v latchkey-data:/data latchkey          (embedded database in /data)
# Configuration is the environment (docs/configuration.md); nothing secret is built in.
ARG NODE_IMAGE=node:22-bookworm-slim

# Only the package manifests, so that the dependency layers below are rebuilt when they change
# and not at every source edit.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN find . -type f ! -name package.json ! -name package-lock.json -delete

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY --from=manifests /src ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY . .
# Source maps point at sources the image does not hold.
RUN node scripts/build.mjs && find packages/*/dist packages/server/web -name '*.map' -delete

FROM ${NODE_IMAGE} AS production-dependencies
WORKDIR /src
COPY --from=manifests /src ./
# Types, source maps and documentation are not needed to run: about 24 MB less.
RUN npm ci --omit=dev --workspace=@latchkey/server --no-audit --no-fund --loglevel=error && \
  find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' \
    -o -name '*.d.cts' -o -iname '*.md' \) -delete

FROM ${NODE_IMAGE}
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 DATA_DIR=/data
WORKDIR /app
COPY --from=production-dependencies /src/node_modules node_modules
COPY --from=build /src/package.json ./
COPY --from=build /src/packages/contract/package.json packages/contract/
COPY --from=build /src/packages/contract/dist packages/contract/dist
COPY --from=build /src/packages/server/package.json packages/server/
# dist holds the embedded database's initial data directory (pglite-initial.tar.gz) too.
COPY --from=build /src/packages/server/dist packages/server/dist
COPY --from=build /src/packages/server/assets packages/server/assets
COPY --from=build /src/packages/server/web packages/server/web
# The code stays root's (read-only to the service); only the data directory is the node user's.
RUN mkdir -p /data && chown node:node /data && chmod 700 /data
USER node
VOLUME /data
EXPOSE 3000
# bash's /dev/tcp rather than a second Node process: a check every 10 s should cost nothing.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/$PORT && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
# node is PID 1 (exec form, no shell in between): SIGTERM reaches it and drains requests in
# flight. Arguments are the CLI's: `docker run … latchkey migrate`, `… create-admin`.
ENTRYPOINT ["node", "packages/server/dist/cli/main.js"]
CMD ["start"]
