/**
 * The binding's hand-written view of rdkafka.h (src/kafka/ffi.ts, and batch.c's msg_t) against
 * the installed header: struct offsets and sizes, and the numeric constants, printed by a C
 * program compiled here (gcc and librdkafka-dev come with scripts/setup.sh). A librdkafka whose
 * layout moved would make every FFI read wrong without any error: this test is what says so.
 */
import { test, expect } from "bun:test";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  MSG,
  TPAR,
  TPLIST,
  VU_SIZE,
  EVENT,
  ADMIN_OP,
  VTYPE,
  ERR,
  RD_KAFKA_PRODUCER,
  RD_KAFKA_CONSUMER,
  RD_KAFKA_PARTITION_UA,
  RD_KAFKA_MSG_F_COPY,
  RD_KAFKA_MSG_F_PARTITION,
  RD_KAFKA_CONF_OK,
} from "../../src/kafka/ffi.ts";

/** [what the binding says, the C expression for it] */
function expectations(): [string, number, string][] {
  const out: [string, number, string][] = [];
  const fields = (name: string, struct: string, layout: Record<string, number>) => {
    for (const [f, v] of Object.entries(layout)) out.push([`${name}.${f}`, v, f === "SIZE" ? `sizeof(${struct})` : `offsetof(${struct}, ${f})`]);
  };
  fields("MSG", "rd_kafka_message_t", MSG);
  fields("TPAR", "rd_kafka_topic_partition_t", TPAR);
  fields("TPLIST", "rd_kafka_topic_partition_list_t", TPLIST);
  out.push(["VU_SIZE", VU_SIZE, "sizeof(rd_kafka_vu_t)"]);
  for (const [k, v] of Object.entries(EVENT)) out.push([`EVENT.${k}`, v, `RD_KAFKA_EVENT_${k}`]);
  for (const [k, v] of Object.entries(ADMIN_OP)) out.push([`ADMIN_OP.${k}`, v, `RD_KAFKA_ADMIN_OP_${k}`]);
  for (const [k, v] of Object.entries(VTYPE)) out.push([`VTYPE.${k}`, v, `RD_KAFKA_VTYPE_${k}`]);
  for (const [k, v] of Object.entries(ERR)) out.push([`ERR.${k}`, v, `RD_KAFKA_RESP_ERR_${k}`]);
  out.push(
    ["RD_KAFKA_PRODUCER", RD_KAFKA_PRODUCER, "RD_KAFKA_PRODUCER"],
    ["RD_KAFKA_CONSUMER", RD_KAFKA_CONSUMER, "RD_KAFKA_CONSUMER"],
    ["RD_KAFKA_PARTITION_UA", RD_KAFKA_PARTITION_UA, "RD_KAFKA_PARTITION_UA"],
    ["RD_KAFKA_MSG_F_COPY", RD_KAFKA_MSG_F_COPY, "RD_KAFKA_MSG_F_COPY"],
    ["RD_KAFKA_MSG_F_PARTITION", RD_KAFKA_MSG_F_PARTITION, "RD_KAFKA_MSG_F_PARTITION"],
    ["RD_KAFKA_CONF_OK", RD_KAFKA_CONF_OK, "RD_KAFKA_CONF_OK"],
  );
  return out;
}

/** batch.c's own copy of rd_kafka_message_t, in field order. */
function batchCLayout(): string[] {
  const src = readFileSync(join(import.meta.dir, "../../src/kafka/native/batch.c"), "utf8");
  const body = /typedef struct \{([^}]*)\} msg_t;/.exec(src)![1]!;
  return body
    .split(";")
    .map(
      (l) =>
        l
          .trim()
          .split(/[\s*]+/)
          .pop()!,
    )
    .filter(Boolean);
}

test("struct offsets, sizes and constants in ffi.ts match the installed rdkafka.h", () => {
  const exp = expectations();
  const dir = mkdtempSync(join(tmpdir(), "ingest-layout-"));
  const c = join(dir, "layout.c");
  writeFileSync(
    c,
    `#include <stddef.h>\n#include <stdio.h>\n#include <librdkafka/rdkafka.h>\nint main(void) {\n${exp.map(([name, , expr]) => `  printf("%s %ld\\n", "${name}", (long)(${expr}));`).join("\n")}\n  return 0;\n}\n`,
  );
  const bin = join(dir, "layout");
  const cc = Bun.spawnSync(["cc", "-o", bin, c], { stderr: "pipe" });
  expect(cc.stderr.toString()).toBe("");
  expect(cc.exitCode).toBe(0);
  const got = Object.fromEntries(
    Bun.spawnSync([bin])
      .stdout.toString()
      .trim()
      .split("\n")
      .map((l) => [l.split(" ")[0]!, Number(l.split(" ")[1])]),
  );
  expect(Object.fromEntries(exp.map(([name, v]) => [name, v]))).toEqual(got);
});

test("batch.c's msg_t lists rd_kafka_message_t's fields in the header's order (its offsets are then the same)", () => {
  const byOffset = Object.entries(MSG)
    .filter(([k]) => k !== "SIZE")
    .sort((a, b) => a[1] - b[1])
    .map(([k]) => k);
  expect(batchCLayout()).toEqual(byOffset.map((k) => (k === "_private" ? "priv" : k)));
});
