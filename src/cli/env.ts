/**
 * Every environment variable `ingest` reads, in one place: the CLI help, the README and the
 * compose file are checked against this list by tests.
 */
export const ENV_VARS: Record<string, string> = {
  KAFKA_BOOTSTRAP_SERVERS: "bootstrap servers (host:port,...); --brokers wins",
  KAFKA_CONFIG_FILE: "Java-style properties file with librdkafka settings (SASL/SSL); --kafka-config wins",
  KAFKA_BROKER_VERSION: "talk to an old broker (e.g. 0.9.0.1); --broker-version wins",
  MYSQL_URL: "mysql://user:pass@host:3306/db for consume/serve stores; without it, SQLite; --mysql-url wins",
  REDIS_URL: "redis://host:6379 for the write-through cache; without it, Redis is off; --redis-url wins",
  SQLITE_PATH: "SQLite file used when MYSQL_URL is unset; --sqlite-path wins",
  LOG_LEVEL: "trace|debug|info|warn|error|fatal|silent; --log-level wins",
  LIBRDKAFKA_PATH: "path to librdkafka.so.1 when it is not in a standard location",
};
