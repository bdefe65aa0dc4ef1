import type { Pointer } from "bun:ffi";
import { readdirSync, readlinkSync } from "node:fs";
import { rdk, cstr, str, RD_KAFKA_PRODUCER } from "./ffi.ts";
import { linuxLib, AF_INET, AF_INET6, IPPROTO_TCP, TCP_NODELAY } from "../core/libc.ts";
import { buildConf, cString } from "./conf.ts";
import { check } from "./errors.ts";
import { IngestError } from "../core/errors.ts";

/** Per-partition retention of librdkafka's mock cluster (it drops older batches beyond it). */
export const MOCK_PARTITION_LIMIT_BYTES = 5 * 1024 * 1024;

/**
 * librdkafka's mock cluster (rdkafka_mock.h): real Kafka-protocol TCP listeners on 127.0.0.1,
 * in memory, hosted by a private client handle. Not durable, and it trims each partition past
 * about 5 MiB: whoever reads back must check watermarks.
 */
export class MockCluster {
  readonly rk: Pointer;
  readonly mcluster: Pointer;
  readonly bootstraps: string;
  readonly brokerCount: number;
  private destroyed = false;

  constructor(brokers = 3) {
    const f = rdk();
    if (!Number.isInteger(brokers) || brokers < 1 || brokers > 64) throw new IngestError(`--brokers: ${brokers} is out of range 1..64`, 2);
    // The host handle never produces; quiet its logs about the empty bootstrap list.
    const conf = buildConf({ log_level: "3" });
    const errstr = new Uint8Array(512);
    const rk = f.rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr.length) as Pointer | null;
    if (!rk) {
      f.rd_kafka_conf_destroy(conf);
      throw new IngestError(`cannot create the mock cluster's host handle: ${cString(errstr)}`);
    }
    const mc = f.rd_kafka_mock_cluster_new(rk, brokers) as Pointer | null;
    if (!mc) {
      f.rd_kafka_destroy(rk);
      throw new IngestError("librdkafka could not start its mock cluster");
    }
    this.rk = rk;
    this.mcluster = mc;
    this.brokerCount = brokers;
    this.bootstraps = str(f.rd_kafka_mock_cluster_bootstraps(mc));
    if (process.env.INGEST_MOCK_NODELAY !== "0") noDelayOnListeners(this.bootstraps);
  }

  createTopic(name: string, partitions: number, replicationFactor = 1): void {
    check(rdk().rd_kafka_mock_topic_create(this.mcluster, cstr(name), partitions, replicationFactor), `mock topic '${name}'`);
  }

  /** Take broker `id` (1-based) down: its connections close and it refuses requests. */
  setBrokerDown(id: number): void {
    check(rdk().rd_kafka_mock_broker_set_down(this.mcluster, id), `mock broker ${id} down`);
  }

  setBrokerUp(id: number): void {
    check(rdk().rd_kafka_mock_broker_set_up(this.mcluster, id), `mock broker ${id} up`);
  }

  setBrokerRtt(id: number, rttMs: number): void {
    check(rdk().rd_kafka_mock_broker_set_rtt(this.mcluster, id, rttMs), `mock broker ${id} rtt`);
  }

  /**
   * Answer the next `errors.length` requests of Kafka API `apiKey` (e.g. 8 = OffsetCommit) with
   * these error codes, in order: for tests of the paths real brokers rarely take.
   */
  pushRequestErrors(apiKey: number, errors: number[]): void {
    rdk().rd_kafka_mock_push_request_errors_array(this.mcluster, apiKey, errors.length, new Int32Array(errors));
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    rdk().rd_kafka_mock_cluster_destroy(this.mcluster);
    rdk().rd_kafka_destroy(this.rk);
  }
}

/**
 * TCP_NODELAY on the mock brokers' listening sockets (Linux: accepted connections inherit it).
 * librdkafka 2.0.2's mock broker leaves Nagle on, so once a client has several requests in
 * flight and then goes quiet, the last responses wait for its delayed ACK: about 40 ms each
 * (docs/design.md, "The embedded broker's TCP_NODELAY").
 * The listeners are found among the process's sockets by their bound port.
 */
function noDelayOnListeners(bootstraps: string): void {
  const sock = linuxLib();
  if (!sock) return;
  const ports = new Set(bootstraps.split(",").map((b) => Number(b.slice(b.lastIndexOf(":") + 1))));
  const addr = new Uint8Array(128);
  const len = new Int32Array(1);
  const one = new Int32Array([1]);
  let fds: string[];
  try {
    fds = readdirSync("/proc/self/fd");
  } catch {
    return;
  }
  for (const name of fds) {
    const fd = Number(name);
    try {
      if (!readlinkSync(`/proc/self/fd/${name}`).startsWith("socket:")) continue;
    } catch {
      continue;
    }
    len[0] = addr.length;
    if (sock.getsockname(fd, addr, len) !== 0) continue;
    const family = addr[0]! | (addr[1]! << 8);
    const port = (addr[2]! << 8) | addr[3]!;
    if ((family === AF_INET || family === AF_INET6) && ports.has(port)) sock.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, one, 4);
  }
}
