import type { Command } from "./command.ts";
import { defineFlags, parseFlags, commandHelp } from "../cli/flags.ts";
import { UsageError } from "../core/errors.ts";
import { writeRows } from "../gen/write.ts";
import { USERS_HEADER, userRow } from "../gen/users.ts";
import { ORDERS_HEADER, orderRow } from "../gen/orders.ts";

export const FLAGS = defineFlags({
  rows: { kind: "int", max: 1e10, default: "1000", help: "rows to write" },
  out: { kind: "output", stdio: true, default: "-", help: "output file, - for stdout" },
  seed: { kind: "int", max: 2 ** 32 - 1, default: "42", help: "PRNG seed" },
  customers: { kind: "int", min: 1, max: 1e10, default: "100000", help: "orders only: customer ids are 1..N" },
  "start-ms": { kind: "int", placeholder: "T", default: "1735689600000", help: "orders only: created_at of the first order" },
});

export const HELP = commandHelp(
  `Usage: ingest gen users|orders --rows N --out FILE [--seed 42]

Writes a deterministic CSV (same seed, same bytes): users match data/users.avsc (ids 1..N, names
with multi-byte text, commas and quotes), orders match data/orders.avsc (customers among users
1..--customers, products P0001..P1000 as seeded by ingest consume).`,
  FLAGS,
);

export default {
  async run(argv) {
    const { values, positionals } = parseFlags(argv, FLAGS, true);
    if (values.help) return (process.stdout.write(HELP), 0);
    const [kind, ...extra] = positionals;
    if (kind !== "users" && kind !== "orders") throw new UsageError(`gen: expected 'users' or 'orders', got ${kind ? `'${kind}'` : "nothing"}`);
    if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
    const { rows, seed, out } = values;
    if (kind === "users") {
      writeRows(out, USERS_HEADER, rows, seed, userRow);
    } else {
      const { customers, "start-ms": t0 } = values;
      writeRows(out, ORDERS_HEADER, rows, seed, (r, i) => orderRow(r, customers, t0, i));
    }
    return 0;
  },
} satisfies Command;
