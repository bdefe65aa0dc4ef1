import { IngestError } from "../core/errors.ts";

/**
 * A sink failed to write or start. `retriable` is a hint for the consumer: connection losses,
 * timeouts and deadlocks are worth retrying the batch for; data errors (a value the schema
 * refuses) will fail the same way again.
 */
export class SinkError extends IngestError {
  readonly sink: string;
  readonly retriable: boolean;
  readonly code: string | undefined;
  constructor(sink: string, message: string, opts: { retriable?: boolean; code?: string; cause?: unknown } = {}) {
    super(`${sink}: ${message}`);
    this.name = "SinkError";
    this.sink = sink;
    this.retriable = opts.retriable ?? true;
    this.code = opts.code;
    if (opts.cause !== undefined) (this as { cause?: unknown }).cause = opts.cause;
  }
}

/** Errors of the driver that mean "the data is wrong", so a retry cannot help. */
const MYSQL_DATA_ERRORS = new Set([
  "ER_DATA_TOO_LONG",
  "ER_TRUNCATED_WRONG_VALUE",
  "ER_TRUNCATED_WRONG_VALUE_FOR_FIELD",
  "ER_BAD_NULL_ERROR",
  "ER_WARN_DATA_OUT_OF_RANGE",
  "ER_CHECK_CONSTRAINT_VIOLATED",
  "ER_CONSTRAINT_FAILED",
  "ER_PARSE_ERROR",
  "ER_NO_SUCH_TABLE",
  "ER_BAD_FIELD_ERROR",
  "ER_WRONG_VALUE_COUNT_ON_ROW",
]);

export function describeError(e: unknown): { message: string; code: string | undefined } {
  const err = e as { code?: string; errno?: number; message?: string; sqlMessage?: string } | undefined;
  const code = err?.code;
  // AggregateError (e.g. connect to both ::1 and 127.0.0.1 failed) has an empty message.
  let message = err?.sqlMessage ?? err?.message ?? String(e);
  if (!message && e instanceof AggregateError) message = e.errors.map((x) => (x as Error).message).join("; ");
  return { message: code && !message.includes(code) ? `${code}: ${message}` : message || String(code), code };
}

export function mysqlError(action: string, target: string, e: unknown): SinkError {
  if (e instanceof SinkError) return e;
  const { message, code } = describeError(e);
  return new SinkError("mysql", `${action} failed (${target}): ${message}`, { code, cause: e, retriable: !MYSQL_DATA_ERRORS.has(code ?? "") });
}
