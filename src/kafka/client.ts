import { read, CString, type Pointer } from "bun:ffi";
import { rdk, str, EVENT, ERR, RD_KAFKA_PRODUCER } from "./ffi.ts";
import { buildConf, cString } from "./conf.ts";
import { errName } from "./errors.ts";
import { IngestError } from "../core/errors.ts";
import { log, redactConfig } from "../observability/log.ts";

const SYSLOG_TO_PINO = ["fatal", "fatal", "fatal", "error", "warn", "info", "info", "debug"] as const;

/**
 * One rd_kafka_t and its main event queue. librdkafka's logs, errors and statistics arrive as
 * events on that queue (log.queue=true, rd_kafka_set_log_queue) and are served by pollEvents()
 * on the JS thread: no JS callback ever runs on a librdkafka thread.
 */
export class Client {
  readonly rk: Pointer;
  readonly mainQueue: Pointer;
  readonly props: Record<string, string>;
  /** Set when librdkafka raises a fatal error; every later operation should stop. */
  fatalError: string | undefined;
  /** The latest statistics JSON (statistics.interval.ms), parsed lazily by callers. */
  lastStats: string | undefined;
  /** The last non-fatal client error (e.g. all brokers down), for health checks. */
  lastError: { code: number; name: string; message: string; at: number } | undefined;
  private lastLoggedError = "";
  private closed = false;
  private readonly logPtrs = new BigUint64Array(2);
  private readonly levelOut = new Int32Array(1);

  constructor(type: number, props: Record<string, string>, events: number, configure?: (conf: Pointer) => void) {
    const f = rdk();
    this.props = props;
    const conf = buildConf({ "log.queue": "true", ...props });
    f.rd_kafka_conf_set_events(conf, events | EVENT.LOG | EVENT.ERROR | EVENT.STATS);
    configure?.(conf);
    const errstr = new Uint8Array(512);
    const rk = f.rd_kafka_new(type, conf, errstr, errstr.length) as Pointer | null;
    if (!rk) {
      f.rd_kafka_conf_destroy(conf); // only rd_kafka_new's success takes ownership
      throw new IngestError(`cannot create Kafka ${type === RD_KAFKA_PRODUCER ? "producer" : "consumer"}: ${cString(errstr)}`);
    }
    this.rk = rk;
    this.mainQueue = f.rd_kafka_queue_get_main(rk) as Pointer;
    f.rd_kafka_set_log_queue(rk, null);
    log.debug({ conf: redactConfig(props) }, `kafka client ${str(f.rd_kafka_name(rk))} created`);
  }

  /**
   * Serve up to `max` events from the main queue without blocking (or waiting up to `timeoutMs`
   * for the first one). Returns the number of events served.
   */
  pollEvents(timeoutMs = 0, max = 10_000): number {
    const f = rdk();
    let n = 0;
    while (n < max) {
      const ev = f.rd_kafka_queue_poll(this.mainQueue, n === 0 ? timeoutMs : 0) as Pointer | null;
      if (!ev) break;
      n++;
      try {
        this.onEvent(f.rd_kafka_event_type(ev), ev);
      } finally {
        f.rd_kafka_event_destroy(ev);
      }
    }
    return n;
  }

  /** Subclasses handle their own event types first, then fall back here. */
  protected onEvent(type: number, ev: Pointer): void {
    const f = rdk();
    switch (type) {
      case EVENT.LOG: {
        f.rd_kafka_event_log(ev, this.logPtrs, this.logPtrs.subarray(1), this.levelOut);
        const fac = new CString(Number(this.logPtrs[0]) as Pointer).toString();
        const msg = new CString(Number(this.logPtrs[1]) as Pointer).toString();
        const level = SYSLOG_TO_PINO[Math.min(7, Math.max(0, this.levelOut[0]!))]!;
        log[level]({ facility: fac, source: "librdkafka" }, msg);
        break;
      }
      case EVENT.ERROR: {
        const code = f.rd_kafka_event_error(ev);
        const message = str(f.rd_kafka_event_error_string(ev));
        const fatal = f.rd_kafka_event_error_is_fatal(ev) !== 0;
        this.lastError = { code, name: errName(code), message, at: Date.now() };
        if (fatal) {
          const buf = new Uint8Array(512);
          const fcode = f.rd_kafka_fatal_error(this.rk, buf, buf.length);
          this.fatalError = `${cString(buf) || message} (${errName(fcode || code)})`;
          log.error({ code: errName(fcode || code) }, `kafka fatal error: ${this.fatalError}`);
        } else {
          // Log once per change of state, not once per retry of the same failure.
          const key = `${code}:${message}`;
          if (key !== this.lastLoggedError) {
            this.lastLoggedError = key;
            log.warn({ code: errName(code) }, `kafka: ${message}`);
          }
        }
        break;
      }
      case EVENT.STATS:
        this.lastStats = str(f.rd_kafka_event_stats(ev));
        break;
      default:
        log.debug({ type }, "kafka: unhandled event type");
    }
  }

  /** True once any broker has answered since the last error (for health checks). */
  get brokersDown(): boolean {
    return this.lastError?.code === ERR._ALL_BROKERS_DOWN && Date.now() - this.lastError.at < 30_000;
  }

  get name(): string {
    return str(rdk().rd_kafka_name(this.rk));
  }

  /** Destroy the handle (after subclasses flushed or closed). Idempotent. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    const f = rdk();
    this.pollEvents(0);
    f.rd_kafka_queue_destroy(this.mainQueue);
    f.rd_kafka_destroy(this.rk);
  }

  get isDestroyed(): boolean {
    return this.closed;
  }
}

/** Read a 64-bit signed integer field as a JS number (offsets and timestamps fit in 2^53). */
export function readI64(p: Pointer | number, off: number): number {
  return read.u32(p as Pointer, off) + read.i32(p as Pointer, off + 4) * 4294967296;
}
