/**
 * Every environment variable `ingest` reads, in one place. Those behind a flag are also named by
 * the flag's spec (its `env`), which --help and docs/commands.md show; test/unit/flags-docs.test.ts
 * fails when src/ reads a variable that is not here, and test/integration/shipping.test.ts checks the
 * compose files and deploy/README-ops.md against this list.
 */
export const ENV_VARS: Record<string, string> = {
  KAFKA_BOOTSTRAP_SERVERS: "bootstrap servers (host:port,...); --brokers wins",
  KAFKA_CONFIG_FILE: "Java-style properties file with librdkafka settings (SASL/SSL); --kafka-config wins",
  KAFKA_BROKER_VERSION: "talk to an old broker (e.g. 0.9.0.1); --broker-version wins",
  MYSQL_URL: "mysql://user:pass@host:3306/db for consume/serve stores; without it, SQLite; --mysql-url wins",
  REDIS_URL: "redis://host:6379 for the write-through cache; without it, Redis is off; --redis-url wins",
  SQLITE_PATH: "SQLite file used when MYSQL_URL is unset; --sqlite-path wins",
  SCHEMA_REGISTRY_URL: "schema registry for Avro values (produce, serve, consume); --schema-registry wins",
  SCHEMA_REGISTRY_CONFIG_FILE: "properties file for the schema registry client (auth, TLS, timeout); --schema-registry-config wins",
  SCHEMA_REGISTRY_USER_INFO: "USER:PASSWORD for the schema registry's basic auth (the properties file's basic.auth.user.info wins)",
  LOG_LEVEL: "trace|debug|info|warn|error|fatal|silent; --log-level wins",
  LIBRDKAFKA_PATH: "path to librdkafka.so.1 when it is not in a standard location",
  // Runtime options produce re-executes itself with (cli/runtime-options.ts); a value already set is kept.
  BUN_JSC_maximumInliningCallerBytecodeCost: "JavaScriptCore's inlining cap; produce sets 2000 unless it is set (or INGEST_RUNTIME_TUNING=0)",
  GLIBC_TUNABLES: "glibc's malloc settings; produce sets a high trim threshold unless it is set (or INGEST_RUNTIME_TUNING=0)",
  // Switches for comparing a fast path with its plain equivalent (benchmarks, bisecting a fault):
  // each is on unless set to 0.
  INGEST_RUNTIME_TUNING: "0: produce runs without re-executing itself with the JIT and malloc options above",
  INGEST_JIT_TUNING: "0: the older name of INGEST_RUNTIME_TUNING=0",
  INGEST_CSV_FAST: "0: produce encodes every CSV row through the generic row path, not the byte-level fast path",
  INGEST_NATIVE_SNAPPY: "0: Avro files' snappy blocks are compressed in JavaScript, not by libsnappy",
  INGEST_ISAL: "0: Avro files' deflate blocks use zlib, not ISA-L",
  INGEST_NATIVE_BATCH:
    "0: no C helper (kafka/native/batch.c, through TinyCC): delivery reports are read in JavaScript, batches are not ordered by partition, wire bytes are not counted",
  INGEST_PREPARTITION: "0: batches are not ordered by partition before the send (librdkafka partitions each record as it comes)",
  INGEST_MOCK_NODELAY: "0: the embedded broker's sockets keep Nagle's algorithm (TCP_NODELAY is not set)",
};
