import type { Sink, SinkName } from "../sinks/types.ts";
import { SINK_NAMES } from "../sinks/types.ts";
import { NoneSink, StdoutSink } from "../sinks/basic.ts";
import { MysqlSink } from "../sinks/mysql.ts";
import { SqliteSink } from "../sinks/sqlite.ts";
import { RedisSink } from "../sinks/redis.ts";
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { UsageError } from "../core/errors.ts";

export interface SinkChoice {
  sinks?: string[];
  mysqlUrl?: string;
  redisUrl?: string;
  sqlitePath: string;
  poolSize: number;
  /** Stock of each product when first seeded (never reset later). */
  initialStock?: number;
}

/**
 * Which sinks are active: --sink when given; otherwise MySQL when a MySQL URL is given, else the
 * embedded SQLite file, plus Redis when a Redis URL is given. Opened and checked at start.
 */
export async function openSinks(c: SinkChoice): Promise<Sink[]> {
  // `--sink ""` (say, an unset variable) would commit every record with nothing written.
  if (c.sinks?.length === 0) throw new UsageError(`--sink: expected one or more of ${SINK_NAMES.join("|")}, got nothing`);
  const names = (c.sinks ?? [c.mysqlUrl ? "mysql" : "sqlite", ...(c.redisUrl ? ["redis"] : [])]) as SinkName[];
  for (const n of names) if (!SINK_NAMES.includes(n)) throw new UsageError(`--sink: '${n}' is not one of ${SINK_NAMES.join("|")}`);
  if (names.includes("mysql") && names.includes("sqlite")) throw new UsageError("--sink: choose mysql or sqlite, not both");
  const out: Sink[] = [];
  // SQL store first: it decides orders; the cache follows with its result.
  for (const n of [...names].sort((a, b) => rank(a) - rank(b))) {
    switch (n) {
      case "mysql":
        if (!c.mysqlUrl) throw new UsageError("--sink mysql needs --mysql-url or MYSQL_URL (mysql://user:pass@host:3306/db)");
        out.push(new MysqlSink({ url: c.mysqlUrl, poolSize: c.poolSize, initialStock: c.initialStock }));
        break;
      case "sqlite":
        if (!existsSync(dirname(c.sqlitePath) || ".")) throw new UsageError(`--sqlite-path: directory ${dirname(c.sqlitePath)} does not exist`);
        out.push(new SqliteSink({ path: c.sqlitePath, initialStock: c.initialStock }));
        break;
      case "redis":
        if (!c.redisUrl) throw new UsageError("--sink redis needs --redis-url or REDIS_URL (redis://host:6379)");
        out.push(new RedisSink({ url: c.redisUrl }));
        break;
      case "stdout":
        out.push(new StdoutSink());
        break;
      case "none":
        out.push(new NoneSink());
        break;
    }
  }
  const started: Sink[] = [];
  try {
    for (const s of out) {
      await s.start();
      started.push(s);
    }
  } catch (e) {
    await Promise.all(started.map((s) => s.close().catch(() => undefined)));
    throw e;
  }
  return out;
}

function rank(n: string): number {
  return n === "mysql" || n === "sqlite" ? 0 : n === "redis" ? 1 : 2;
}
