/**
 * `ingest dashboard` in a real browser: Debian's chromium driven headless by playwright-core
 * (both installed by scripts/setup.sh). Against the embedded broker: the page loads without
 * console errors; a topic's rate rises above 0 while a produce runs; a group's lag on the page
 * is what `ingest lag --json` says; it falls to 0 once a consumer drains the topic; a scraped
 * consumer that is killed shows as down within a few refreshes. Also the command's bad input:
 * a port in use and a bad flag (one line, exit 2), an unreachable cluster (shown and retried).
 * INGEST_UPDATE_SCREENSHOT=1 saves the run's screenshot as docs/dashboard.png.
 */
import { test, expect, describe, beforeAll, afterAll } from "bun:test";
import { existsSync, mkdtempSync, copyFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { startBroker, uniqueName, FAST_GROUP_PROPS, type TestBroker } from "../helpers/broker.ts";
import { runIngest, spawnIngest, ROOT } from "../helpers/cli.ts";
import { until, spawnAndReadLine } from "../helpers/wait.ts";
import { describeNeeding } from "../helpers/needs.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const fast = Object.entries(FAST_GROUP_PROPS).flatMap(([k, v]) => ["-X", `${k}=${v}`]);
const dir = mkdtempSync(join(tmpdir(), "ingest-dashboard-"));
const ROWS = 60_000;

/** A port nothing listens on right now. */
function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = s.port;
  s.stop(true);
  return port!;
}

describeNeeding("chromium", existsSync(CHROMIUM) ? null : `no browser at ${CHROMIUM}`, "the dashboard page in chromium", () => {
  let broker: TestBroker;
  let ctx: BrowserContext;
  let page: Page;
  let dashboard: ReturnType<typeof spawnIngest>;
  let consumer: ReturnType<typeof spawnIngest> | undefined;
  let url = "";
  const consoleErrors: string[] = [];
  const topic = uniqueName("dash");
  const group = uniqueName("dash-g");
  const metricsPort = freePort();
  const target = `http://127.0.0.1:${metricsPort}/metrics`;
  const csv = join(dir, "users.csv");

  beforeAll(async () => {
    broker = startBroker({ brokers: 3, topics: { [topic]: 4 } });
    expect((await runIngest(["gen", "users", "--rows", String(ROWS), "--out", csv])).code).toBe(0);
    const d = await spawnAndReadLine([
      "dashboard",
      "-b",
      broker.bootstrap,
      "--port",
      "0",
      "--refresh",
      "500ms",
      "--topic",
      topic,
      "--group",
      group,
      "--scrape",
      target,
    ]);
    dashboard = d.proc;
    url = d.line.replace(/^dashboard on /, "");
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "ingest-chromium-")), {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
      viewport: { width: 1280, height: 900 },
    });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
  }, 90_000);

  afterAll(async () => {
    consumer?.kill("SIGKILL");
    dashboard?.kill("SIGTERM");
    await ctx?.close();
    broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const attr = (sel: string, name: string) => page.locator(sel).first().getAttribute(name, { timeout: 1000 });

  test("the page loads from the executable with no console errors and shows the cluster", async () => {
    await page.goto(url);
    await page.waitForSelector('#cluster-state[data-up="1"]', { timeout: 20_000 });
    await page.waitForSelector(`tr[data-topic="${topic}"]`, { timeout: 10_000 });
    expect(await page.locator("[data-broker]").count()).toBe(3);
    expect(await page.locator('[data-broker][data-up="1"]').count()).toBe(3);
    // The scraped consumer is not started yet: shown down, the page still fine.
    await page.waitForSelector(`tr[data-target="${target}"] .state[data-up="0"]`, { timeout: 10_000 });
    expect(consoleErrors).toEqual([]);
  }, 60_000);

  test("while a produce runs, the topic's rate rises above 0", async () => {
    const produce = runIngest(["produce", "--file", csv, "--topic", topic, "-b", broker.bootstrap]);
    const rate = await until("a rate above 0", async () => {
      const v = Number(await attr(`tr[data-topic="${topic}"] .rate`, "data-value"));
      return v > 0 ? v : undefined;
    });
    expect(rate).toBeGreaterThan(0);
    expect((await produce).code).toBe(0);
    await until("all rows retained", async () => Number(await attr(`tr[data-topic="${topic}"] .retained`, "data-value")) === ROWS);
  }, 60_000);

  test("a group's lag on the page is what `ingest lag --json` says", async () => {
    // Part of the topic consumed and committed, then the consumer leaves: the lag stands still.
    const part = await runIngest(
      ["consume", "-b", broker.bootstrap, "--group", group, "--topics", topic, "--format", "raw", "--sink", "none", "--max-messages", "20000", ...fast],
      { timeoutMs: 60_000 },
    );
    expect(part.code, part.stderr).toBe(0);
    const cli = await runIngest(["lag", "-b", broker.bootstrap, "--group", group, "--topic", topic, "--json"]);
    expect(cli.code, cli.stderr).toBe(0);
    const want = (JSON.parse(cli.stdout) as { total_lag: number }).total_lag;
    expect(want).toBeGreaterThan(0);
    expect(want).toBeLessThanOrEqual(ROWS - 20_000);
    const shown = await until("the page's lag to match", async () => {
      const v = Number(await attr(`[data-group="${group}"] .lag-total`, "data-value"));
      return v === want ? v : undefined;
    });
    expect(shown).toBe(want);
    expect(await page.locator(`[data-group="${group}"] .status`).textContent()).toMatch(/^(OK|UNKNOWN|STALL|STOP|WARN)$/);
    expect(consoleErrors).toEqual([]);
  }, 90_000);

  test("after a consumer drains the topic, the page shows lag 0 and the consumer's figures", async () => {
    consumer = spawnIngest([
      "consume",
      "-b",
      broker.bootstrap,
      "--group",
      group,
      "--topics",
      topic,
      "--format",
      "raw",
      "--sink",
      "none",
      "--metrics-port",
      String(metricsPort),
      ...fast,
    ]);
    await page.waitForSelector(`tr[data-target="${target}"] .state[data-up="1"]`, { timeout: 30_000 });
    await until("lag 0 on the page", async () => Number(await attr(`[data-group="${group}"] .lag-total`, "data-value")) === 0, 60_000);
    await until("OK status", async () => (await page.locator(`[data-group="${group}"] .status`).textContent()) === "OK");
    // Members come from the scraped consumer's metrics (the embedded broker cannot describe groups).
    expect(await attr(`[data-group="${group}"] .members`, "data-count")).toBe("1");
    expect(await page.locator(`tr[data-target="${target}"]`).textContent()).toContain(`group ${group}`);
    const cli = JSON.parse((await runIngest(["lag", "-b", broker.bootstrap, "--group", group, "--topic", topic, "--json"])).stdout) as { total_lag: number };
    expect(cli.total_lag).toBe(0);
    await Bun.sleep(1500); // a few more points on the chart
    const shot = join(dir, "dashboard.png");
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env.INGEST_UPDATE_SCREENSHOT === "1") copyFileSync(shot, join(ROOT, "docs", "dashboard.png"));
    expect(consoleErrors).toEqual([]);
  }, 120_000);

  test("a scraped process that is killed shows as down within a few refreshes; the page keeps working", async () => {
    consumer!.kill("SIGKILL");
    await consumer!.exited;
    const t0 = Date.now();
    await page.waitForSelector(`tr[data-target="${target}"] .state[data-up="0"]`, { timeout: 10_000 });
    expect(Date.now() - t0).toBeLessThan(5 * 500 + 3000);
    // Its group is still shown, now without members.
    await until("no members", async () => (await attr(`[data-group="${group}"] .members`, "data-count")) === "0");
    expect(await page.locator('#cluster-state[data-up="1"]').count()).toBe(1);
    expect(consoleErrors).toEqual([]);
  }, 60_000);
});

describe("ingest dashboard: bad input", () => {
  test("a port in use and a bad flag: one line, exit 2", async () => {
    const busy = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    try {
      const r = await runIngest(["dashboard", "-b", "127.0.0.1:1", "--port", String(busy.port)]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^error: cannot listen on 127\\.0\\.0\\.1:${busy.port}: `));
    } finally {
      busy.stop(true);
    }
    for (const [args, msg] of [
      [["--refresh", "10ms"], "error: --refresh: 10ms is out of range 250ms..60s"],
      [["--scrape", "nohost"], "error: --scrape: 'nohost' has no port (expected host:port)"],
      [["--window", "1"], "error: --window: 1 is out of range 2..1000"],
      [["--bogus"], "error: unknown option '--bogus'"],
    ] as const) {
      const r = await runIngest(["dashboard", ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.trim()).toBe(msg);
    }
  }, 60_000);

  test("an unreachable cluster is shown as such and retried; the server keeps answering", async () => {
    const d = await spawnAndReadLine(["dashboard", "-b", `127.0.0.1:${freePort()}`, "--port", "0", "--refresh", "250ms", "--timeout-ms", "300"]);
    try {
      const base = d.line.replace(/^dashboard on /, "");
      const state = async () =>
        (await (await fetch(`${base}/api/state`)).json()) as { cluster: { up: boolean; error: string | null; passes: number; failedPasses: number } };
      const first = await until("a failed pass", async () => {
        const s = await state();
        return s.cluster.failedPasses >= 1 ? s : undefined;
      });
      expect(first.cluster.up).toBe(false);
      expect(first.cluster.error).toMatch(/metadata/);
      await until("more tries", async () => (await state()).cluster.failedPasses >= first.cluster.failedPasses + 2);
      expect((await fetch(base)).status).toBe(200);
      expect(await (await fetch(`${base}/metrics`)).text()).toContain("ingest_cluster_up 0");
    } finally {
      d.proc.kill("SIGTERM");
      expect(await d.proc.exited).toBe(0);
    }
  }, 60_000);
});
