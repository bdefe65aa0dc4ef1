/**
 * Numbered schema migrations kept in src/sinks/sql/{mysql,sqlite}/NNN_name.sql, applied in order
 * at start and recorded in `schema_migrations` (version, name, checksum, applied_at). A file that
 * was changed after it was applied is refused (the database no longer matches the repo).
 * Concurrent starts are serialized: MySQL with GET_LOCK, SQLite with BEGIN IMMEDIATE.
 */
import { createHash } from "node:crypto";
import type { Database } from "bun:sqlite";
import type { PoolConnection } from "mysql2/promise";
import { IngestError } from "../core/errors.ts";
import { log } from "../observability/log.ts";
// Embedded in the compiled binary; register new files here (a test checks the list against the folder).
import mysql001 from "./sql/mysql/001_init.sql" with { type: "text" };
import mysql002 from "./sql/mysql/002_order_id_binary.sql" with { type: "text" };
import sqlite001 from "./sql/sqlite/001_init.sql" with { type: "text" };

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MYSQL_MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "001_init", sql: mysql001 },
  { version: 2, name: "002_order_id_binary", sql: mysql002 },
];
export const SQLITE_MIGRATIONS: readonly Migration[] = [{ version: 1, name: "001_init", sql: sqlite001 }];

export function checksum(sql: string): string {
  return createHash("sha256").update(sql.replace(/\r\n/g, "\n")).digest("hex");
}

/**
 * Split a SQL script into statements on `;` outside quotes and comments (MySQL runs one statement
 * per query unless multipleStatements is on, which we keep off everywhere).
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let cur = "";
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "-" && sql[i + 1] === "-") {
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? sql.length : nl + 1;
      cur += "\n";
      continue;
    }
    if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? sql.length : end + 2;
      cur += " ";
      continue;
    }
    if (c === "'" || c === '"' || c === "`") {
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === "\\" && c !== "`") j += 2;
        else if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) break;
        else j++;
      }
      cur += sql.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === ";") {
      if (cur.trim()) out.push(cur.trim());
      cur = "";
      i++;
      continue;
    }
    cur += c;
    i++;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function checkApplied(engine: string, migrations: readonly Migration[], applied: Map<number, string>): Migration[] {
  const known = new Map(migrations.map((m) => [m.version, m]));
  for (const [version, sum] of applied) {
    const m = known.get(version);
    if (!m) {
      log.warn({ engine, version }, "database has a schema migration this version of ingest does not know (newer ingest?)");
      continue;
    }
    if (sum !== checksum(m.sql)) {
      throw new IngestError(
        `${engine}: migration ${m.name} was changed after it was applied (checksum ${sum.slice(0, 12)} in schema_migrations, ${checksum(m.sql).slice(0, 12)} in this build); add a new migration instead of editing an applied one`,
      );
    }
  }
  return migrations.filter((m) => !applied.has(m.version)).sort((a, b) => a.version - b.version);
}

/**
 * Apply pending MySQL migrations on `conn` under a named lock; `after` runs under the same lock
 * (seeding), so two consumers starting at once neither race the DDL nor double-seed.
 */
export async function migrateMysql(
  conn: PoolConnection,
  migrations: readonly Migration[] = MYSQL_MIGRATIONS,
  after?: () => Promise<void>,
  lockTimeoutS = 60,
): Promise<number> {
  const [[db]] = (await conn.query("SELECT DATABASE() AS db")) as unknown as [[{ db: string | null }]];
  if (!db.db) throw new IngestError("mysql: the URL names no database (mysql://user:pass@host:3306/DATABASE)");
  // GET_LOCK names are server-wide: scope to the database (names are limited to 64 characters).
  const lockName = `ingest_migrate:${db.db}`.slice(0, 64);
  const [[lock]] = (await conn.query("SELECT GET_LOCK(?, ?) AS got", [lockName, lockTimeoutS])) as unknown as [[{ got: number | null }]];
  if (lock.got !== 1) throw new IngestError(`mysql: another ingest held the schema migration lock '${lockName}' for ${lockTimeoutS}s; is one stuck?`);
  try {
    await conn.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version    INT          NOT NULL PRIMARY KEY,
         name       VARCHAR(255) NOT NULL,
         checksum   CHAR(64)     NOT NULL,
         applied_at BIGINT       NOT NULL
       ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    );
    const [rows] = (await conn.query("SELECT version, checksum FROM schema_migrations")) as unknown as [{ version: number; checksum: string }[]];
    const pending = checkApplied("mysql", migrations, new Map(rows.map((r) => [Number(r.version), r.checksum])));
    for (const m of pending) {
      for (const stmt of splitStatements(m.sql)) {
        try {
          await conn.query(stmt);
        } catch (e) {
          throw new IngestError(`mysql: migration ${m.name} failed at: ${stmt.split("\n")[0]}...: ${(e as Error).message}`);
        }
      }
      await conn.query("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)", [
        m.version,
        m.name,
        checksum(m.sql),
        Date.now(),
      ]);
      log.info({ engine: "mysql", migration: m.name }, "schema migration applied");
    }
    if (after) await after();
    return pending.length;
  } finally {
    await conn.query("SELECT RELEASE_LOCK(?)", [lockName]).catch(() => undefined);
  }
}

/** Apply pending SQLite migrations, each in the same write transaction as its record; then `after`. */
export function migrateSqlite(db: Database, migrations: readonly Migration[] = SQLITE_MIGRATIONS, after?: () => void): number {
  // IMMEDIATE takes the write lock up front: a second process waits (busy_timeout) instead of racing.
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER NOT NULL PRIMARY KEY,
      name       TEXT    NOT NULL,
      checksum   TEXT    NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    const rows = db.query("SELECT version, checksum FROM schema_migrations").all() as { version: number; checksum: string }[];
    const pending = checkApplied("sqlite", migrations, new Map(rows.map((r) => [r.version, r.checksum])));
    const record = db.prepare("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)");
    for (const m of pending) {
      try {
        db.exec(m.sql);
      } catch (e) {
        throw new IngestError(`sqlite: migration ${m.name} failed: ${(e as Error).message}`);
      }
      record.run(m.version, m.name, checksum(m.sql), Date.now());
      log.info({ engine: "sqlite", migration: m.name }, "schema migration applied");
    }
    after?.();
    db.exec("COMMIT");
    return pending.length;
  } catch (e) {
    db.exec("ROLLBACK");
    throw e;
  }
}
