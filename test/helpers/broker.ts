import { MockCluster, Admin } from "../../src/kafka/index.ts";

/**
 * IMPORTANT for group tests: the embedded broker holds a group REJOIN (after a member left or
 * was killed) for the members' rebalance timeout = max.poll.interval.ms (300 s by default), and
 * a killed member stays until session.timeout.ms. Spread these into consumer props in tests
 * (CLI: -X session.timeout.ms=6000 -X max.poll.interval.ms=7000).
 */
export const FAST_GROUP_PROPS = { "session.timeout.ms": "6000", "max.poll.interval.ms": "7000" } as const;

export interface TestBroker {
  bootstrap: string;
  cluster: MockCluster;
  /** Sum over partitions of high - low watermark: what the broker still holds. */
  retained(topic: string): number;
  /** High watermark per partition. */
  highWatermarks(topic: string): number[];
  createTopic(name: string, partitions: number): void;
  stop(): void;
}

/**
 * An embedded broker (librdkafka's mock cluster) inside the test process: fresh state per call.
 * It trims partitions past ~5 MiB, so tests that read back compare against retained().
 */
export function startBroker(opts: { brokers?: number; topics?: Record<string, number> } = {}): TestBroker {
  const cluster = new MockCluster(opts.brokers ?? 3);
  const partitionsOf = new Map<string, number>();
  const createTopic = (name: string, partitions: number) => {
    cluster.createTopic(name, partitions, 1);
    partitionsOf.set(name, partitions);
  };
  for (const [name, n] of Object.entries(opts.topics ?? {})) createTopic(name, n);
  let admin: Admin | undefined;
  const getAdmin = () => (admin ??= new Admin({ "bootstrap.servers": cluster.bootstraps, log_level: "3" }));
  const marks = (topic: string) => {
    const n = partitionsOf.get(topic) ?? getAdmin().metadata(5000, topic).topics[0]!.partitions.length;
    return Array.from({ length: n }, (_, p) => getAdmin().watermarks(topic, p));
  };
  return {
    bootstrap: cluster.bootstraps,
    cluster,
    createTopic,
    retained: (topic) => marks(topic).reduce((s, w) => s + (w.high - w.low), 0),
    highWatermarks: (topic) => marks(topic).map((w) => w.high),
    stop() {
      admin?.close();
      cluster.destroy();
    },
  };
}

/** A unique name per test, so tests sharing a broker never see each other's data. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
