import { UsageError } from "../core/errors.ts";
import { rdk, cstr, RD_KAFKA_CONF_OK, type Pointer } from "./ffi.ts";

const ERRSTR_SIZE = 512;

/**
 * Build an rd_kafka_conf_t from a property map. librdkafka validates every name and value here,
 * so an unknown property or a bad value becomes a one-line UsageError naming it.
 * The caller owns the returned conf until rd_kafka_new succeeds with it.
 */
export function buildConf(props: Record<string, string>): Pointer {
  const f = rdk();
  const conf = f.rd_kafka_conf_new() as Pointer;
  const errstr = new Uint8Array(ERRSTR_SIZE);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined) continue;
    const rc = f.rd_kafka_conf_set(conf, cstr(k), cstr(String(v)), errstr, ERRSTR_SIZE);
    if (rc !== RD_KAFKA_CONF_OK) {
      f.rd_kafka_conf_destroy(conf);
      const why = cString(errstr);
      // librdkafka says "No such configuration property: ..." (rc -2) or "Invalid value ..." (rc -1).
      throw new UsageError(rc === -2 ? `unknown librdkafka property '${k}'` : `librdkafka property '${k}': ${why}`);
    }
  }
  return conf;
}

/** Read a NUL-terminated string out of a JS byte buffer. */
export function cString(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
}

/** Brokers before 0.10 cannot answer ApiVersionRequest; librdkafka must be told what they speak. */
export function brokerVersionProps(version: string): Record<string, string> {
  if (!/^\d+\.\d+(\.\d+){0,2}$/.test(version)) throw new UsageError(`--broker-version: '${version}' is not a version like 0.9.0.1`);
  const [maj, min] = version.split(".").map(Number) as [number, number];
  if (maj === 0 && min < 10) return { "api.version.request": "false", "broker.version.fallback": version };
  return { "broker.version.fallback": version };
}

/** True when the configuration targets a broker older than 0.11 (no headers, no zstd, no timestamps before 0.10). */
export function isOldBroker(conf: Record<string, string>): boolean {
  if (conf["api.version.request"] !== "false") return false;
  const v = conf["broker.version.fallback"] ?? "0.10.0";
  const [maj, min] = v.split(".").map(Number) as [number, number];
  return maj === 0 && min < 11;
}

/**
 * Idempotent producing by default (no duplicates when librdkafka retries a batch whose ack was
 * lost, e.g. when a partition leader dies mid-request), when it can apply: acks=all (librdkafka's
 * default when unset), a broker that has it (not Kafka 0.9/0.10, see isOldBroker), and the user
 * did not set enable.idempotence (-X or the properties file) themselves. Spread it before the
 * user's properties.
 */
export function idempotentByDefault(conf: Record<string, string>): Record<string, string> {
  if ("enable.idempotence" in conf || isOldBroker(conf)) return {};
  const acks = conf.acks ?? conf["request.required.acks"] ?? "all";
  return acks === "all" || acks === "-1" ? { "enable.idempotence": "true" } : {};
}
