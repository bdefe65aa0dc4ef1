/**
 * The dashboard's and `ingest lag`'s parts without a browser: the Burrow-style evaluator, the
 * Prometheus renderer and parser, the scraper's figures, the dashboard state built from cluster
 * passes, and the Kafka admin calls they rest on (against the embedded broker).
 */
import { describe, test, expect, afterAll } from "bun:test";
import { evaluatePartition, worstStatus, StatusWindows, type Observation, type Status } from "../../src/monitor/status.ts";
import { renderFamilies, parseMetrics, histogramQuantile, histogramSamples, MetricsParseError } from "../../src/observability/prometheus.ts";
import { figures, scrapeUrl, Scraper } from "../../src/monitor/scrape.ts";
import { DashboardState, compactAssignment } from "../../src/monitor/state.ts";
import { clusterPass, groupLag, type ClusterPass } from "../../src/monitor/cluster.ts";
import { Admin, Consumer, probeBroker, API_KEY } from "../../src/kafka/index.ts";
import { UsageError } from "../../src/core/errors.ts";
import { startBroker, uniqueName } from "../helpers/broker.ts";
import { produceAll } from "../helpers/kafka-io.ts";

const obs = (rows: [number | null, number][], step = 1000): Observation[] => rows.map(([offset, lag], i) => ({ at: i * step, offset, lag }));

describe("Burrow-style status per partition", () => {
  const cases: [string, Observation[], { owned?: boolean; lastMoveAt?: number }, Status][] = [
    [
      "lag 0 at the end",
      obs([
        [10, 5],
        [12, 3],
        [15, 0],
      ]),
      {},
      "OK",
    ],
    [
      "lag 0 once in the window (Burrow: OK)",
      obs([
        [10, 0],
        [10, 3],
        [10, 6],
      ]),
      {},
      "OK",
    ],
    [
      "lag falling while the offset moves",
      obs([
        [10, 9],
        [15, 6],
        [20, 4],
      ]),
      {},
      "OK",
    ],
    [
      "offset moves, lag never falls",
      obs([
        [10, 5],
        [15, 5],
        [20, 8],
      ]),
      {},
      "WARN",
    ],
    [
      "offset stands still with lag, a member holds it",
      obs([
        [10, 5],
        [10, 6],
        [10, 9],
      ]),
      { owned: true },
      "STALL",
    ],
    [
      "offset stands still, membership unknown, within twice the window",
      obs([
        [10, 5],
        [10, 6],
        [10, 9],
      ]),
      {},
      "STALL",
    ],
    [
      "offset stood still for more than twice the window, membership unknown",
      obs([
        [10, 5],
        [10, 6],
        [10, 9],
      ]),
      { lastMoveAt: -10_000 },
      "STOP",
    ],
    [
      "no member holds the partition",
      obs([
        [10, 5],
        [10, 6],
      ]),
      { owned: false },
      "STOP",
    ],
    ["no member, one observation", obs([[10, 5]]), { owned: false }, "STOP"],
    [
      "offset went back",
      obs([
        [20, 5],
        [10, 15],
        [12, 13],
      ]),
      { owned: true },
      "REWIND",
    ],
    ["one observation with lag", obs([[10, 5]]), { owned: true }, "UNKNOWN"],
    [
      "never committed, lag standing",
      obs([
        [null, 5],
        [null, 5],
      ]),
      { owned: true },
      "STALL",
    ],
    ["nothing observed", [], {}, "UNKNOWN"],
  ];
  for (const [name, window, o, want] of cases) {
    test(`${want}: ${name}`, () => {
      const now = window.at(-1)?.at ?? 0;
      expect(evaluatePartition(window, { now, ...o }).status).toBe(want);
    });
  }

  test("a group is as bad as its worst partition", () => {
    expect(worstStatus(["OK", "WARN", "OK"])).toBe("WARN");
    expect(worstStatus(["WARN", "STOP", "STALL", "REWIND"])).toBe("STOP");
    expect(worstStatus(["STALL", "REWIND"])).toBe("STALL");
    expect(worstStatus([])).toBe("OK");
  });

  test("windows keep the last N observations and when the offset last moved", () => {
    const w = new StatusWindows(3);
    // Moves early, then stands still for a long time: STOP once the standstill is twice the window.
    w.add("k", { at: 0, offset: 1, lag: 9 });
    w.add("k", { at: 1000, offset: 5, lag: 9 });
    for (let t = 2000; t <= 10_000; t += 1000) w.add("k", { at: t, offset: 5, lag: 9 });
    expect(w.evaluate("k", 10_000).status).toBe("STOP");
    expect(w.evaluate("k", 10_000, true).status).toBe("STALL");
    w.retain(new Set());
    expect(w.evaluate("k", 10_000).status).toBe("UNKNOWN");
  });
});

describe("Prometheus text", () => {
  test("rendered families parse back to the same samples (labels escaped, histogram cumulative)", () => {
    const text = renderFamilies([
      { name: "a_total", type: "counter", help: "with \\ and\nnewline", samples: [{ labels: { route: '/x"y', sink: "a\\b" }, value: 3 }] },
      { name: "lat", type: "histogram", samples: histogramSamples([0.1, 1], [2, 1], 1.5, 4, { route: "/o" }) },
      { name: "g", type: "gauge", samples: [{ value: NaN }, { labels: { k: "v" }, value: Infinity }] },
    ]);
    expect(text).toContain("# TYPE lat histogram");
    const s = parseMetrics(text);
    expect(s[0]).toEqual({ name: "a_total", labels: { route: '/x"y', sink: "a\\b" }, value: 3 });
    expect(s.filter((x) => x.name === "lat_bucket").map((x) => [x.labels.le, x.value])).toEqual([
      ["0.1", 2],
      ["1", 3],
      ["+Inf", 4],
    ]);
    expect(s.find((x) => x.name === "lat_count")!.value).toBe(4);
    expect(Number.isNaN(s.find((x) => x.name === "g")!.value)).toBe(true);
    expect(s.at(-1)!.value).toBe(Infinity);
  });

  test("text that is not Prometheus exposition fails, naming the line", () => {
    expect(() => parseMetrics("<html><body>hello</body></html>")).toThrow(MetricsParseError);
    expect(() => parseMetrics("ok 1\nbad line here\n")).toThrow("line 2: expected 'name{labels} value', got 'bad line here'");
    expect(() => parseMetrics('x{a="1" b="2"} 3')).toThrow("bad label list");
    expect(() => parseMetrics("x twelve")).toThrow("line 1");
  });

  test("histogram quantile interpolates within the bucket, as histogram_quantile does", () => {
    const b = [
      { le: 0.01, count: 50 },
      { le: 0.1, count: 90 },
      { le: 1, count: 100 },
      { le: Infinity, count: 100 },
    ];
    expect(histogramQuantile(0.5, b)).toBeCloseTo(0.01, 9);
    expect(histogramQuantile(0.9, b)).toBeCloseTo(0.1, 9);
    expect(histogramQuantile(0.99, b)).toBeCloseTo(0.1 + 0.9 * 0.9, 9);
    expect(
      histogramQuantile(0.99, [
        { le: 1, count: 0 },
        { le: Infinity, count: 0 },
      ]),
    ).toBeNaN();
    // Beyond the last finite bound: that bound.
    expect(
      histogramQuantile(0.99, [
        { le: 1, count: 1 },
        { le: Infinity, count: 10 },
      ]),
    ).toBe(1);
  });
});

describe("scraping", () => {
  test("target specs: host:port or a URL, /metrics by default; bad ones are usage errors", () => {
    expect(scrapeUrl("127.0.0.1:9100")).toBe("http://127.0.0.1:9100/metrics");
    expect(scrapeUrl("http://h:8080")).toBe("http://h:8080/metrics");
    expect(scrapeUrl("http://h:8080/custom")).toBe("http://h:8080/custom");
    for (const bad of ["h", "ftp://h:1/x", "http://"]) expect(() => scrapeUrl(bad)).toThrow(UsageError);
  });

  test("serve figures: request rate without /metrics and /health, p99 of the interval, 503s", () => {
    const page = (n: number, slow: number) => `
ingest_http_requests_total{route="/order",status="202"} ${n}
ingest_http_requests_total{route="/order",status="503"} ${slow}
ingest_http_requests_total{route="/metrics",status="200"} 1000
ingest_http_request_duration_seconds_bucket{route="/order",le="0.001"} ${n}
ingest_http_request_duration_seconds_bucket{route="/order",le="1"} ${n + slow}
ingest_http_request_duration_seconds_bucket{route="/order",le="+Inf"} ${n + slow}
ingest_http_produced_total ${n}
ingest_http_queue_depth 4
`;
    const prev = { at: 0, samples: parseMetrics(page(100, 0)) };
    const f = figures(parseMetrics(page(300, 10)), prev, 2000);
    expect(f.kind).toBe("serve");
    expect(f.serve!.rate).toBe(105); // (310 - 100) / 2 s: /metrics not counted
    expect(f.serve!.unavailable).toBe(10);
    expect(f.serve!.unavailableRate).toBe(5);
    expect(f.serve!.p99Ms).toBeGreaterThan(1); // the interval's 210 requests: 10 slow ones make p99 > 1 ms
    expect(f.serve!.queued).toBe(4);
  });

  test("consume figures: group, written per sink with rates, errors, DLQ, assigned partitions", () => {
    const page = (n: number) => `
ingest_consume_info{group="g1",client_id="c1"} 1
ingest_consume_received_total ${n}
ingest_consume_written_total{sink="mysql"} ${n}
ingest_consume_written_total{sink="redis"} ${n / 2}
ingest_consume_store_failures_total 3
ingest_consume_dlq_total 2
ingest_consume_in_flight 7
ingest_consume_assigned{topic="users",partition="0"} 1
ingest_consume_assigned{topic="users",partition="2"} 1
ingest_consume_lag{topic="users",partition="0"} 5
`;
    const f = figures(parseMetrics(page(2000)), { at: 0, samples: parseMetrics(page(1000)) }, 1000);
    expect(f.consume).toMatchObject({
      group: "g1",
      clientId: "c1",
      written: { mysql: 2000, redis: 1000 },
      writtenRate: { mysql: 1000, redis: 500 },
      storeFailures: 3,
      dlq: 2,
      inFlight: 7,
      lag: 5,
    });
    expect(f.consume!.assigned).toEqual([
      { topic: "users", partition: 0 },
      { topic: "users", partition: 2 },
    ]);
  });

  test("a target that answers garbage, an error status or nothing is an error for that target only", async () => {
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(req) {
        const p = new URL(req.url).pathname;
        if (p === "/good") return new Response('ingest_consume_received_total 5\ningest_consume_info{group="g",client_id="c"} 1\n');
        if (p === "/garbage") return new Response("<html>not metrics</html>");
        if (p === "/empty") return new Response("");
        return new Response("no", { status: 500 });
      },
    });
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const closedPort = closed.port;
    closed.stop(true);
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const s = new Scraper([`${base}/good`, `${base}/garbage`, `${base}/empty`, `${base}/error`, `http://127.0.0.1:${closedPort}/metrics`]);
      const [good, garbage, empty, error, down] = await s.scrapeAll(1000);
      expect(good).toMatchObject({ up: true, kind: "consume", consume: { group: "g", received: 5 } });
      expect(garbage).toMatchObject({ up: false, error: "not Prometheus text: line 1: expected 'name{labels} value', got '<html>not metrics</html>'" });
      expect(empty).toMatchObject({ up: false, error: "not Prometheus text: no samples" });
      expect(error).toMatchObject({ up: false, error: "HTTP 500" });
      expect(down!.up).toBe(false);
      expect(down!.error).toMatch(/ECONNREFUSED|refused|Unable to connect/i);
    } finally {
      server.stop(true);
    }
  });
});

describe("dashboard state from cluster passes", () => {
  const pass = (at: number, high: number, committed: number, opts: { leaderDown?: boolean; error?: string } = {}): ClusterPass => ({
    at,
    ms: 1,
    ...(opts.error ? { error: opts.error } : {}),
    brokers: [{ id: 1, host: "h", port: 1, up: true }],
    topics: [
      {
        name: "t",
        partitions: [
          {
            id: 0,
            leader: 1,
            replicas: [1, 2],
            isr: [1],
            low: 0,
            high: opts.leaderDown ? -1 : high,
            ...(opts.leaderDown ? { error: "leader 1 does not answer" } : {}),
          },
          { id: 1, leader: 1, replicas: [1], isr: [1], low: 0, high: 0 },
        ],
      },
    ],
    groups: [{ id: "g", committed: { "t\u00000": committed }, describeError: "no DescribeGroups" }],
  });
  const state = () => new DashboardState({ bootstrap: "b", refreshMs: 1000, window: 3, historyMs: 60_000, explicitGroups: [] });

  test("topic rate from the high watermarks' delta; lag, catch-up and under-replicated partitions", () => {
    const s = state();
    s.onPass(pass(0, 1000, 0));
    s.onPass(pass(1000, 3000, 500));
    s.onPass(pass(2000, 4000, 2000));
    const snap = s.snapshot();
    expect(snap.topics[0]).toMatchObject({ name: "t", partitions: 2, rate: 1500, retained: 4000, underReplicated: 1 });
    const g = snap.groups[0]!;
    expect(g.lag).toBe(2000);
    expect(g.history.total).toEqual([1000, 2500, 2000]);
    expect(g.status).toBe("OK"); // lag fell at the end
    // Lag 1000 -> 2000 over the 2 s the history spans: growing, so no catch-up time.
    expect(g.catchUpSeconds).toBeNull();
    expect(g.catchUp).toBe("not catching up: producers are as fast or faster");
    s.onPass(pass(3000, 4000, 3000));
    // Lag 1000 -> 1000 (t 0 -> 3 s) is flat; at 4 s 4000 - 3800 = 200: falling 800 over 4 s.
    s.onPass(pass(4000, 4000, 3800));
    expect(s.snapshot().groups[0]!.catchUpSeconds).toBe(Math.round(200 / (800 / 4)));
    const metrics = renderFamilies(s.metrics());
    expect(metrics).toContain('ingest_group_lag_total{group="g"} 200');
    expect(metrics).toContain('ingest_group_status{group="g",status="OK"} 1');
    expect(metrics).toContain('ingest_topic_under_replicated_partitions{topic="t"} 1');
  });

  test("a partition whose leader does not answer keeps its last watermarks; an unreachable cluster is shown, not thrown", () => {
    const s = state();
    s.onPass(pass(0, 1000, 0));
    s.onPass(pass(1000, 0, 0, { leaderDown: true }));
    expect(s.snapshot().groups[0]!.lag).toBe(1000);
    expect(s.snapshot().topics[0]!.unreadable).toBe(1);
    s.onPass(pass(2000, 0, 0, { error: "metadata: Local: All broker connections are down" }));
    const snap = s.snapshot();
    expect(snap.cluster).toMatchObject({ up: false, error: "metadata: Local: All broker connections are down", passes: 3, failedPasses: 1 });
    expect(snap.brokers.every((b) => !b.up)).toBe(true);
    expect(renderFamilies(s.metrics())).toContain("ingest_cluster_up 0");
  });

  test("members from scraped consumers where the cluster cannot describe groups: one gone means STOP", () => {
    const s = state();
    const consumer = (up: boolean) => ({
      url: "http://c:1/metrics",
      up,
      kind: "consume" as const,
      consume: {
        group: "g",
        clientId: "c1",
        received: 0,
        written: {},
        writtenRate: {},
        storeFailures: 0,
        abandoned: 0,
        dlq: 0,
        poison: 0,
        inFlight: 0,
        lag: 0,
        assigned: [{ topic: "t", partition: 0 }],
      },
    });
    s.setTargets([consumer(true)]);
    s.onPass(pass(0, 100, 10));
    expect(s.snapshot().groups[0]).toMatchObject({ membersSource: "metrics", members: [{ clientId: "c1", assignment: "t[0]" }] });
    s.onPass(pass(1000, 100, 10));
    expect(s.snapshot().groups[0]!.status).toBe("STALL");
    s.setTargets([consumer(false)]);
    s.onPass(pass(2000, 100, 10));
    expect(s.snapshot().groups[0]).toMatchObject({ status: "STOP", members: [] });
  });

  test("assignments are written compactly", () => {
    expect(
      compactAssignment([
        { topic: "u", partition: 2 },
        { topic: "u", partition: 0 },
        { topic: "u", partition: 1 },
        { topic: "u", partition: 5 },
        { topic: "o", partition: 1 },
      ]),
    ).toBe("o[1] u[0-2,5]");
  });
});

describe("cluster pass against the embedded broker", () => {
  const broker = startBroker({ brokers: 3 });
  afterAll(() => broker.stop());

  test("watermarks of many partitions, committed offsets of groups, brokers probed with their API keys", async () => {
    const topic = uniqueName("mon");
    broker.createTopic(topic, 4);
    (
      await produceAll(
        { "bootstrap.servers": broker.bootstrap },
        topic,
        Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
      )
    ).producer.close();
    const admin = new Admin({ "bootstrap.servers": broker.bootstrap, log_level: "3" });
    const consumer = new Consumer({ "bootstrap.servers": broker.bootstrap, "group.id": "mon-g" });
    try {
      consumer.commit([{ topic, partition: 1, offset: 3 }]);
      const pass = await clusterPass(admin, { groups: ["mon-g", "mon-none"], topics: [topic], listGroups: true, timeoutMs: 5000 });
      expect(pass.error).toBeUndefined();
      expect(pass.brokers.map((b) => b.up)).toEqual([true, true, true]);
      const t = pass.topics[0]!;
      expect(t.partitions.map((p) => p.high)).toEqual(broker.highWatermarks(topic));
      expect(t.partitions.reduce((s, p) => s + p.high, 0)).toBe(40);
      // The embedded broker has no ListGroups/DescribeGroups: said so, and the offsets still come.
      expect(pass.listGroupsError).toContain("ListGroups");
      const g = pass.groups.find((x) => x.id === "mon-g")!;
      expect(g.describeError).toContain("DescribeGroups");
      const rows = groupLag(pass, g, [topic]);
      expect(rows.find((r) => r.partition === 1)).toMatchObject({ committed: 3, lag: broker.highWatermarks(topic)[1]! - 3 });
      expect(rows.find((r) => r.partition === 0)).toMatchObject({ committed: null, lag: broker.highWatermarks(topic)[0]! });
      expect(groupLag(pass, pass.groups.find((x) => x.id === "mon-none")!).length).toBe(0);
      // A broker taken down answers no more: the pass says which, and skips its partitions' watermarks.
      broker.cluster.setBrokerDown(2);
      const down = await clusterPass(admin, { groups: [], topics: [topic], listGroups: false, timeoutMs: 3000 });
      if (!down.error) {
        expect(down.brokers.find((b) => b.id === 2)!.up).toBe(false);
        expect(down.brokers.filter((b) => b.up).length).toBe(2);
      }
      broker.cluster.setBrokerUp(2);
    } finally {
      consumer.close();
      admin.close();
    }
  }, 60_000);

  test("the probe reads the broker's API keys; a closed port is down", async () => {
    const [host, port] = broker.bootstrap.split(",")[0]!.split(":");
    const r = await probeBroker(host!, Number(port), 2000);
    expect(r.ok).toBe(true);
    expect(r.apis).toContain(3); // Metadata
    expect(r.apis).not.toContain(API_KEY.DescribeGroups);
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const p = closed.port;
    closed.stop(true);
    expect((await probeBroker("127.0.0.1", p!, 1000)).ok).toBe(false);
  });
});
