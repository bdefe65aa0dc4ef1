/// <reference lib="webworker" />
/**
 * The dashboard's cluster passes, in a worker: librdkafka's metadata, offsets and admin calls
 * block their thread (for their whole timeout when the cluster is unreachable), and on the
 * dashboard's event loop that would hold every page and /api/state request. Here they block only
 * this worker, which posts each pass to the dashboard: one pass per refresh, however many
 * browsers look.
 */
import { Admin } from "../kafka/index.ts";
import { clusterPass, type ClusterPass } from "./cluster.ts";

export interface ClusterJob {
  kafka: Record<string, string>;
  groups: string[];
  topics?: string[];
  refreshMs: number;
  timeoutMs: number;
}
/** More groups to read from now on (named by scraped consumers). */
export interface ClusterGroups {
  addGroups: string[];
}

declare const self: Worker;
if (typeof self !== "undefined" && !Bun.isMainThread) {
  let job: ClusterJob | undefined;
  const groups = new Set<string>();
  self.onmessage = (ev: MessageEvent<ClusterJob | ClusterGroups>) => {
    if ("addGroups" in ev.data) {
      for (const g of ev.data.addGroups) groups.add(g);
      return;
    }
    if (job) return;
    job = ev.data;
    for (const g of job.groups) groups.add(g);
    void loop(job);
  };
  const loop = async (j: ClusterJob) => {
    const admin = new Admin({ ...j.kafka, log_level: j.kafka.log_level ?? "3" });
    for (;;) {
      const started = performance.now();
      let pass: ClusterPass;
      try {
        pass = await clusterPass(admin, { groups: [...groups], topics: j.topics, listGroups: true, timeoutMs: j.timeoutMs });
      } catch (e) {
        pass = { at: Date.now(), ms: Math.round(performance.now() - started), error: (e as Error).message, brokers: [], topics: [], groups: [] };
      }
      self.postMessage(pass);
      await Bun.sleep(Math.max(50, j.refreshMs - (performance.now() - started)));
    }
  };
}
