/**
 * The floor of decoding in one Bun thread, no Kafka: UTF-8 decode + JSON.parse (+ one check per
 * record) of the users NDJSON, batched as ingest consume parses them (one JSON array per 5000
 * records), 3 rounds; and the UTF-8 decode alone. docs/benchmarks-kafka4.md.
 *
 *   bun bench/decode-floor.ts bench/data/users-1000000.ndjson
 */
import { readFileSync } from "node:fs";
const buf = readFileSync(process.argv[2]!);
const lines: Uint8Array[] = [];
let s = 0;
for (let i = 0; i < buf.length; i++)
  if (buf[i] === 10) {
    lines.push(buf.subarray(s, i));
    s = i + 1;
  }
const B = 5000;
const arrays: Uint8Array[] = [];
for (let i = 0; i < lines.length; i += B) {
  const part = lines.slice(i, i + B);
  const len = part.reduce((a, l) => a + l.length + 1, 1);
  const out = new Uint8Array(len);
  out[0] = 91;
  let o = 1;
  part.forEach((l, j) => {
    out.set(l, o);
    o += l.length;
    out[o++] = j === part.length - 1 ? 93 : 44;
  });
  arrays.push(out);
}
const utf8 = new TextDecoder();
for (let round = 0; round < 3; round++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  for (const a of arrays) {
    const v = JSON.parse(utf8.decode(a)) as { id: number }[];
    for (const r of v) if (typeof r.id === "number") n++;
  }
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  const c2 = process.cpuUsage();
  let _bytes = 0;
  for (const a of arrays) _bytes += utf8.decode(a).length;
  const c3 = process.cpuUsage(c2);
  console.log(
    JSON.stringify({
      round,
      records: n,
      wall_s: +((t1 - t0) / 1000).toFixed(3),
      cpu_s: +((c1.user + c1.system) / 1e6).toFixed(3),
      utf8_decode_cpu_s: +((c3.user + c3.system) / 1e6).toFixed(3),
      us_per_record: +((c1.user + c1.system) / n).toFixed(2),
    }),
  );
}
