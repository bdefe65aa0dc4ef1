# ingest: single-executable Kafka ingest tool.
#   docker build -t ingest:0.1.0 .
#   docker run --rm ingest:0.1.0 --help
# Two stages: Bun compiles src/ into one self-contained binary; the runtime image holds only that
# binary, librdkafka (dlopened through bun:ffi) and CA certificates. Nothing is fetched at run time.

# Build stage: Bun pinned to package.json "packageManager" (test/shipping.test.ts checks they agree).
FROM oven/bun:1.4.4-debian AS build
WORKDIR /src
# Dependencies first, so source edits reuse the cached install layer. --production: the bundler
# needs no type checker; --ignore-scripts: no install hooks run in the build.
COPY package.json bun.lock bunfig.toml tsconfig.json ./
RUN bun install --frozen-lockfile --production --ignore-scripts
COPY src ./src
# The Avro schemas are embedded in the binary (import ... with { type: "text" }).
COPY data/users.avsc data/orders.avsc ./data/
# The same command as `bun run build` (package.json). --help loads no librdkafka, so this only
# proves the bundle starts; no tests run here.
RUN bun run build && ./ingest --help > /dev/null

# Runtime stage: Debian 12 (bookworm). `bun build --compile` embeds the Bun executable itself,
# dynamically linked against glibc; Bun 1.4.4 needs GLIBC_2.17 at most and bookworm ships 2.36,
# so the binary runs whatever Debian release the Bun image is built on.
FROM debian:12.11-slim AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="ingest" \
      org.opencontainers.image.description="Single-executable, high-throughput Kafka ingest tool (Bun + librdkafka)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/debian:12.11-slim"
# librdkafka1: the Kafka client the binary dlopens (librdkafka.so.1); libisal2 and
# libsnappy1v5: the Avro file's deflate and snappy codecs (dlopened; without them zlib and a
# slower JS snappy); ca-certificates: TLS to managed Kafka (SASL_SSL) and to MySQL/Redis over
# TLS. Nothing else: no curl, no shell tools.
RUN apt-get update \
 && apt-get install -y --no-install-recommends librdkafka1 libisal2 libsnappy1v5 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ingest \
 && useradd --system --uid 10001 --gid ingest --home-dir /data --no-create-home --shell /usr/sbin/nologin ingest \
 && install -d -o ingest -g ingest -m 0750 /data
COPY --from=build /src/ingest /usr/local/bin/ingest
USER ingest:ingest
WORKDIR /data
EXPOSE 8080
# Probes `ingest serve` (the default port); other long-running commands override it (compose.yaml
# gives ingest-consume a Kafka check). `ingest health` is the binary itself, so no curl is needed.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["ingest", "health", "--url", "http://127.0.0.1:8080/health", "--timeout", "3s"]
ENTRYPOINT ["ingest"]
CMD ["--help"]
