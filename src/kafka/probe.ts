/**
 * Does a broker answer? One Kafka ApiVersions request (v0: the version every broker since 0.10
 * answers, and 0.9 answers by closing) over a plain TCP connection, outside librdkafka: a
 * librdkafka client talks only to the brokers it needs and reports their state late, where a
 * dashboard must say per broker, every refresh, whether it answers now.
 */
import { connect } from "node:net";

export interface ProbeResult {
  ok: boolean;
  /** Round trip of the request, when it was answered. */
  ms?: number;
  /** The API keys the broker supports (ApiVersions' answer), when it listed them. */
  apis?: number[];
  error?: string;
}

/** Kafka API keys a caller may want to check before asking (the embedded broker has none of them). */
export const API_KEY = { DescribeGroups: 15, ListGroups: 16, CreateTopics: 19 } as const;

/** ApiVersions v0: size, api_key 18, api_version 0, correlation id, client id "ingest-probe". */
function apiVersionsRequest(correlationId: number): Buffer {
  const client = Buffer.from("ingest-probe");
  const b = Buffer.alloc(4 + 2 + 2 + 4 + 2 + client.length);
  b.writeInt32BE(b.length - 4, 0);
  b.writeInt16BE(18, 4);
  b.writeInt16BE(0, 6);
  b.writeInt32BE(correlationId, 8);
  b.writeInt16BE(client.length, 12);
  client.copy(b, 14);
  return b;
}

/** Resolves (never rejects) once the broker answered, refused, closed or `timeoutMs` passed. */
export function probeBroker(host: string, port: number, timeoutMs = 1000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const correlationId = (Math.random() * 0x7fffffff) | 0;
    let got = Buffer.alloc(0);
    let settled = false;
    const sock = connect({ host, port });
    const finish = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ ok: false, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
    sock.on("connect", () => sock.write(apiVersionsRequest(correlationId)));
    sock.on("data", (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < 8) return;
      // The response: size, the request's correlation id, then error code and [api_key, min, max].
      if (got.readInt32BE(4) !== correlationId) return finish({ ok: false, error: "answered with a wrong correlation id: not a Kafka broker?" });
      const size = got.readInt32BE(0);
      if (got.length < 4 + size && size < 1 << 20) return;
      const ms = Math.round((performance.now() - t0) * 10) / 10;
      const apis: number[] = [];
      if (size >= 10) {
        const n = got.readInt32BE(10);
        for (let i = 0; i < n && 14 + i * 6 + 2 <= got.length; i++) apis.push(got.readInt16BE(14 + i * 6));
      }
      finish({ ok: true, ms, apis });
    });
    sock.on("error", (e: NodeJS.ErrnoException) => finish({ ok: false, error: e.code ?? e.message }));
    sock.on("close", () => finish({ ok: false, error: "closed the connection without answering" }));
  });
}
