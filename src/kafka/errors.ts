import { IngestError } from "../core/errors.ts";
import { rdk, str, ERR } from "./ffi.ts";

/** A librdkafka error code with its symbolic name (e.g. `_MSG_TIMED_OUT`) and librdkafka's text. */
export class KafkaError extends IngestError {
  readonly code: number;
  readonly codeName: string;
  constructor(code: number, context?: string, detail?: string) {
    const name = errName(code);
    const text = detail || errString(code);
    super(`${context ? `${context}: ` : ""}${text} (${name})`);
    this.name = "KafkaError";
    this.code = code;
    this.codeName = name;
  }
  get retriable(): boolean {
    return this.code === ERR._QUEUE_FULL || this.code === ERR._TIMED_OUT || this.code === ERR._TRANSPORT;
  }
}

export function errName(code: number): string {
  return str(rdk().rd_kafka_err2name(code)) || String(code);
}

export function errString(code: number): string {
  return str(rdk().rd_kafka_err2str(code));
}

/** Errors of a broker or coordinator that went away or moved: the same request can succeed soon. */
const TRANSIENT: ReadonlySet<number> = new Set([
  ERR._TRANSPORT,
  ERR._TIMED_OUT,
  ERR._ALL_BROKERS_DOWN,
  ERR.LEADER_NOT_AVAILABLE,
  ERR.NOT_LEADER_FOR_PARTITION,
  ERR.REQUEST_TIMED_OUT,
  ERR.COORDINATOR_LOAD_IN_PROGRESS,
  ERR.COORDINATOR_NOT_AVAILABLE,
  ERR.NOT_COORDINATOR,
]);

/**
 * Run a blocking request (`call(msLeft)` returns a librdkafka error code) again while it fails
 * with a transient error, until `timeoutMs` is spent; then throw its last error. A real cluster
 * answers NOT_COORDINATOR or NOT_LEADER for a few seconds after a broker dies.
 */
export function retryTransient(timeoutMs: number, context: string, call: (msLeft: number) => number): void {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const left = Math.max(1, Math.round(deadline - performance.now()));
    const code = call(left);
    if (code === ERR.NO_ERROR) return;
    if (!TRANSIENT.has(code) || performance.now() + 250 >= deadline) throw new KafkaError(code, context);
    Bun.sleepSync(250);
  }
}

/** Throw a KafkaError when `code` is not NO_ERROR. */
export function check(code: number, context: string): void {
  if (code !== ERR.NO_ERROR) throw new KafkaError(code, context);
}

/** Consume an rd_kafka_error_t* (may be null): throw it as a KafkaError, freeing it. */
export function checkErrorObject(errPtr: number | null, context: string): void {
  if (!errPtr) return;
  const f = rdk();
  const code = f.rd_kafka_error_code(errPtr as never);
  const text = str(f.rd_kafka_error_string(errPtr as never));
  f.rd_kafka_error_destroy(errPtr as never);
  throw new KafkaError(code, context, text);
}
