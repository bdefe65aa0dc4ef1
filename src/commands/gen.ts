import type { Command } from "./command.ts";
import { parse, intFlag, outputFileFlag, COMMON_HELP } from "../cli/args.ts";
import { UsageError } from "../core/errors.ts";
import { writeRows } from "../gen/write.ts";
import { USERS_HEADER, userRow } from "../gen/users.ts";
import { ORDERS_HEADER, orderRow } from "../gen/orders.ts";

const HELP = `Usage: ingest gen users|orders --rows N --out FILE [--seed 42]

Writes a deterministic CSV (same seed, same bytes): users match data/users.avsc (ids 1..N, names
with multi-byte text, commas and quotes), orders match data/orders.avsc (customers among users
1..--customers, products P0001..P1000 as seeded by ingest consume).

Options:
      --rows N          rows to write (default 1000)
      --out FILE        output file, - for stdout (default -)
      --seed N          PRNG seed (default 42)
      --customers N     orders only: customer ids are 1..N (default 100000)
      --start-ms T      orders only: created_at of the first order (default 1735689600000)
${COMMON_HELP}
`;

export default {
  summary: "generate deterministic users or orders CSV",
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      { rows: { type: "string" }, out: { type: "string" }, seed: { type: "string" }, customers: { type: "string" }, "start-ms": { type: "string" } },
      true,
    );
    if (values.help) return process.stdout.write(HELP), 0;
    const [kind, ...extra] = positionals;
    if (kind !== "users" && kind !== "orders") throw new UsageError(`gen: expected 'users' or 'orders', got ${kind ? `'${kind}'` : "nothing"}`);
    if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
    const rows = intFlag("rows", values.rows, 0, 1e10) ?? 1000;
    const seed = intFlag("seed", values.seed, 0, 2 ** 32 - 1) ?? 42;
    const out = values.out === "-" ? "-" : (outputFileFlag("out", values.out) ?? "-");
    if (kind === "users") {
      writeRows(out, USERS_HEADER, rows, seed, userRow);
    } else {
      const customers = intFlag("customers", values.customers, 1, 1e10) ?? 100_000;
      const t0 = intFlag("start-ms", values["start-ms"], 0) ?? 1735689600000;
      writeRows(out, ORDERS_HEADER, rows, seed, (r, i) => orderRow(r, customers, t0, i));
    }
    return 0;
  },
} satisfies Command;
