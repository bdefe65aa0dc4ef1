/**
 * Load above what the consumer sustains, then stop: the lag grows, drains to zero, and MariaDB
 * ends exact (every 202-answered order once, stock consistent, Redis equal). A short version of
 * scripts/soak/load-drain.ts; needs the compiled ./ingest (INGEST_BIN, or `bun run build`),
 * MariaDB and Redis.
 */
import { expect } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../helpers/cli.ts";
import { needs } from "../helpers/needs.ts";
import { loadDrain } from "../../scripts/soak/load-drain.ts";

const ingest = process.env.INGEST_BIN ?? join(ROOT, "ingest");

needs("the built executable (bun run build)", existsSync(ingest) ? null : `no ${ingest}`)(
  "ingest load above the consumer's pace for 8 s: lag grows, drains to 0, stores exact",
  async () => {
    const r = await loadDrain({ ingest, seconds: 8, rate: 1500, log: () => {} });
    console.log(r.notes);
    expect(r.records).toBeGreaterThan(8 * 1500 * 0.9);
    expect({ lost: r.lost, duplicated: r.duplicated }).toEqual({ lost: 0, duplicated: 0 });
    expect(r.pass).toBe(true);
  },
  60_000,
);
