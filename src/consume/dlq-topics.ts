/**
 * The dead-letter topics (`<topic>.dlq`) made to exist before a poison record needs one. A
 * cluster that does not create topics on first use (auto.create.topics.enable=false, usual in
 * production) would otherwise refuse every dead-letter record: nothing is lost (the record is
 * retried and its partition's commits wait), but the consumer would stall on it.
 */
import { Admin, ERR, KafkaError, probeBroker, API_KEY } from "../kafka/index.ts";
import { log } from "../observability/log.ts";

export async function ensureDlqTopics(kafka: Record<string, string>, topics: string[], timeoutMs = 10_000): Promise<void> {
  const admin = new Admin(kafka);
  try {
    const md = admin.metadata(timeoutMs);
    const have = new Set(md.topics.filter((t) => t.err === 0).map((t) => t.name));
    const missing = topics.map((t) => `${t}.dlq`).filter((d) => !have.has(d));
    if (missing.length === 0) return;
    // The embedded broker has no CreateTopics: it creates a topic on the first produce instead.
    const b = md.brokers[0];
    const probe = b ? await probeBroker(b.host, b.port, 2000) : undefined;
    if (!probe?.apis?.includes(API_KEY.CreateTopics)) {
      log.info({ topics: missing }, "consume: dead-letter topics do not exist yet; the broker has no CreateTopics, so they are left to its auto-creation");
      return;
    }
    for (const name of missing) {
      try {
        admin.createTopic(name, 1, -1, {}, timeoutMs);
        log.info({ topic: name }, "consume: created dead-letter topic (1 partition, the broker's default replication factor)");
      } catch (e) {
        if (e instanceof KafkaError && e.code === ERR.TOPIC_ALREADY_EXISTS) continue;
        log.warn(
          { topic: name, err: (e as Error).message },
          "consume: cannot create the dead-letter topic: poison records will be retried (holding back their partition's commits) until it exists",
        );
      }
    }
  } finally {
    admin.close();
  }
}
