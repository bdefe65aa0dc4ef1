/**
 * Broker faults on a real three-node Kafka 4.4 cluster: the soak's kafka4-faults scenarios
 * (scripts/soak/kafka4-faults.ts), small enough for CI. Each asserts nothing lost and nothing
 * twice; the scenario's notes say what happened when one fails.
 */
import { expect, beforeAll, afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kafka4Test, startKafka4, type KafkaCluster } from "../helpers/kafka4.ts";
import { consumeCoordinatorKill, isrBelowMin, produceLeaderKill, rollingRestart, serveLeaderKill } from "../../scripts/soak/kafka4-faults.ts";
import type { SoakResult } from "../../scripts/soak/types.ts";

const dir = mkdtempSync(join(tmpdir(), "ingest-k4faults-"));
let k: KafkaCluster;
// The scenarios spawn `ingest` by one path: the built executable (scripts/test.sh sets INGEST_BIN).
const ingest = process.env.INGEST_BIN ?? join(import.meta.dir, "..", "..", "ingest");
const o = { quick: true, ingest, log: (m: string) => console.error(`  ${m}`) };

beforeAll(async () => {
  k = await startKafka4({ nodes: 3 });
}, 180_000);
afterAll(async () => {
  await k?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

function expectClean(r: SoakResult): void {
  expect({ scenario: r.scenario, lost: r.lost, duplicated: r.duplicated, pass: r.pass, notes: r.pass ? "" : r.notes }).toEqual({
    scenario: r.scenario,
    lost: 0,
    duplicated: 0,
    pass: true,
    notes: "",
  });
}

/**
 * A scenario as a test: it must lose nothing and duplicate nothing; every node is up again
 * afterwards, also when it failed half-way.
 */
function faultTest(name: string, timeoutMs: number, run: () => Promise<SoakResult | SoakResult[]>): void {
  kafka4Test(
    name,
    async () => {
      try {
        const r = await run();
        for (const x of Array.isArray(r) ? r : [r]) expectClean(x);
      } finally {
        for (const n of k.nodes) if (!n.pid) await k.startNode(n.id);
      }
    },
    timeoutMs,
  );
}

faultTest(
  "produce of 200k rows while the busiest partition leader is SIGKILLed and restarted: every row in the topic once, exit 0, the summary agrees",
  240_000,
  () => produceLeaderKill(k, o, 200_000, dir),
);

faultTest(
  "serve --ack delivered under ingest load while the busiest leader is SIGKILLed and restarted: every 202 order in the topic once, no order id twice",
  240_000,
  () => serveLeaderKill(k, o, 15, 500),
);

faultTest(
  "consume into MariaDB+Redis while the group coordinator's broker is SIGKILLed: the consumer keeps going, commits never ahead, stores exact",
  // A restarted node can take minutes to answer on a loaded machine (startNode waits up to 180 s).
  480_000,
  () => consumeCoordinatorKill(k, o, { users: 3000, orders: 6000 }),
);

faultTest(
  "consume into MariaDB+Redis through a rolling restart of all three brokers: the consumer keeps going, commits never ahead, stores exact",
  400_000,
  () => rollingRestart(k, o, { users: 3000, orders: 6000 }),
);

faultTest(
  "acks=all with two of three brokers down (ISR below min.insync.replicas): nothing reported delivered that is not in the topic; brokers back in time: every row once; too late: exit 1 with the failures counted",
  400_000,
  () => isrBelowMin(k, o, 10_000, dir),
);
