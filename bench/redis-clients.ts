/**
 * `bun bench/redis-clients.ts [--rows N] [--batch B] [--rounds R]`: the users' Redis write
 * (one MSET of `user:{id}` -> JSON per batch, 4 in flight as the consumer's lanes send them)
 * through node-redis (`sendCommand`, the sink's client) and through Bun's built-in RedisClient
 * (`send`), alternating, R rounds. Prints per client the wall time, this process's CPU per key
 * (process.cpuUsage: what the consumer would spend) and redis-server's CPU per key (/proc), so
 * the client's own cost is seen apart from the server's. The values are built once, outside the
 * timed part. A diagnostic for docs/benchmarks-consume.md (which client the sink should use).
 */
import { parseArgs } from "node:util";
import { createClient } from "redis";
import { RedisClient } from "bun";
import { cpuSecondsOf } from "./proc-cpu.ts";

const { values } = parseArgs({ options: { rows: { type: "string" }, batch: { type: "string" }, rounds: { type: "string" } } });
const N = Number(values.rows ?? 400_000);
const BATCH = Number(values.batch ?? 5000);
const ROUNDS = Number(values.rounds ?? 5);
const URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379/7";
const LANES = 4;

// Users' JSON as the sink writes it (about 220 bytes each).
const values_: string[] = [];
for (let i = 0; i < N; i++)
  values_.push(
    JSON.stringify({
      id: i + 1,
      first_name: `First${i % 977}`,
      last_name: `Last${i % 1013}`,
      email: `user${i}@example.com`,
      age: 18 + (i % 60),
      country: "Germany",
      city: "Berlin",
      signup_ts: 1_700_000_000_000 + i,
      is_active: i % 3 !== 0,
      score: (i % 1000) / 10,
      phone: i % 5 ? `+49 30 ${1_000_000 + i}` : null,
    }),
  );
const batches: string[][] = [];
for (let s = 0; s < N; s += BATCH) {
  const args: string[] = [];
  for (let i = s; i < Math.min(N, s + BATCH); i++) args.push(`user:${i + 1}`, values_[i]!);
  batches.push(args);
}

const serverPid = Number(Bun.spawnSync(["pgrep", "-o", "redis-server"]).stdout.toString().trim().split("\n")[0]);

async function lanes(send: (args: string[]) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: LANES }, async () => {
      while (next < batches.length) await send(batches[next++]!);
    }),
  );
}

async function measure(name: string, run: () => Promise<void>): Promise<{ name: string; s: number; clientUs: number; serverUs: number }> {
  const c0 = process.cpuUsage();
  const s0 = Number.isFinite(serverPid) ? cpuSecondsOf(serverPid) : NaN;
  const t0 = performance.now();
  await run();
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const server = Number.isFinite(serverPid) ? cpuSecondsOf(serverPid) - s0 : NaN;
  return { name, s, clientUs: (c.user + c.system) / N, serverUs: (server * 1e6) / N };
}

const node = createClient({ url: URL });
node.on("error", () => {});
await node.connect();
const bun = new RedisClient(URL, { enableOfflineQueue: false });
await bun.connect();

const rows: Awaited<ReturnType<typeof measure>>[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? ["node-redis", "bun"] : ["bun", "node-redis"];
  for (const which of order) {
    await node.flushDb();
    const m =
      which === "node-redis"
        ? await measure(which, () => lanes((a) => node.sendCommand(["MSET", ...a])))
        : await measure(which, () => lanes((a) => bun.send("MSET", a)));
    rows.push(m);
    console.log(
      `round ${r + 1} ${which.padEnd(10)} ${Math.round(N / m.s).toLocaleString("en-US")} keys/s, client ${m.clientUs.toFixed(2)} µs CPU/key, redis-server ${m.serverUs.toFixed(2)} µs CPU/key`,
    );
  }
}
await node.flushDb();
const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const name of ["node-redis", "bun"]) {
  const mine = rows.filter((x) => x.name === name);
  console.log(
    `median ${name.padEnd(10)} ${Math.round(N / med(mine.map((x) => x.s))).toLocaleString("en-US")} keys/s, client ${med(mine.map((x) => x.clientUs)).toFixed(2)} µs CPU/key, redis-server ${med(mine.map((x) => x.serverUs)).toFixed(2)} µs CPU/key`,
  );
}
console.log(`${new Date().toISOString()}, ${N.toLocaleString("en-US")} keys in MSETs of ${BATCH}, ${LANES} in flight, ${ROUNDS} rounds alternating`);
await node.quit();
bun.close();
