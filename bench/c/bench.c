#define _GNU_SOURCE /* memmem */
/*
 * The C ceiling: librdkafka used as well as this client library allows, doing exactly what
 * `ingest produce --input ndjson` and `ingest consume --sink none` do.
 *
 *   c-bench produce --brokers B --topic T --messages N --file F [--compression lz4]
 *     Loads the NDJSON file into memory first (pre-encoded messages), then produces every line,
 *     keyed by its "id" field, with rd_kafka_produce_batch, acks=all, and waits for every
 *     delivery report. The clock runs from the first produce call to the last report.
 *     --idempotence sets enable.idempotence=true (ingest's default with acks=all).
 *     --conf KEY=VALUE (repeatable) sets any librdkafka property over these settings.
 *     --ordered orders each batch by partition first, as ingest produce does: each message gets
 *     its partition from librdkafka's default partitioner function (consistent_random) for the
 *     topic's partition count (from metadata), then a stable counting sort, and the batch goes
 *     out with RD_KAFKA_MSG_F_PARTITION.
 *   c-bench consume --brokers B --topic T --messages N --group G
 *     Subscribes in a consumer group (auto commit off), reads N messages with
 *     rd_kafka_consume_batch_queue without decoding them, commits async every batch and sync at
 *     the end. The clock runs from the first message to the last. --copy also copies each key
 *     and value out of the message (what a consumer that hands the bytes on must do).
 *
 * Prints one JSON line: {"contender":"c","mode":...,"messages":...,"failed":...,"seconds":...}
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long delivered = 0, failed = 0;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk; (void)opaque;
  if (m->err) failed++; else delivered++;
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v) {
  char err[256];
  if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "conf %s=%s: %s\n", k, v, err);
    exit(2);
  }
}

/* --conf KEY=VALUE (repeatable): any librdkafka property over the settings above, for trying one
   setting at a time (the bench's runs use none). */
static void set_extra(rd_kafka_conf_t *c, int argc, char **argv) {
  for (int i = 2; i < argc - 1; i++) {
    if (strcmp(argv[i], "--conf")) continue;
    char kv[512];
    snprintf(kv, sizeof kv, "%s", argv[i + 1]);
    char *eq = strchr(kv, '=');
    if (!eq) { fprintf(stderr, "--conf %s: expected KEY=VALUE\n", argv[i + 1]); exit(2); }
    *eq = 0;
    set(c, kv, eq + 1);
  }
}

static const char *arg(int argc, char **argv, const char *name, const char *def) {
  for (int i = 2; i < argc - 1; i++) if (!strcmp(argv[i], name)) return argv[i + 1];
  if (!def) { fprintf(stderr, "missing %s\n", name); exit(2); }
  return def;
}

static int flag(int argc, char **argv, const char *name) {
  for (int i = 2; i < argc; i++) if (!strcmp(argv[i], name)) return 1;
  return 0;
}

/* The "id" value of a flat JSON line: digits after "id": (no parser, same as ingest's scan). */
static void key_of(const char *line, size_t len, const char **k, size_t *klen) {
  const char *p = memmem(line, len, "\"id\":", 5);
  *k = NULL; *klen = 0;
  if (!p) return;
  p += 5;
  const char *e = p;
  while (e < line + len && *e != ',' && *e != '}') e++;
  *k = p; *klen = (size_t)(e - p);
}

static int produce(int argc, char **argv) {
  const char *brokers = arg(argc, argv, "--brokers", NULL), *topic = arg(argc, argv, "--topic", NULL);
  const char *file = arg(argc, argv, "--file", NULL), *codec = arg(argc, argv, "--compression", "lz4");
  long want = atol(arg(argc, argv, "--messages", "0"));
  FILE *f = fopen(file, "rb");
  if (!f) { perror(file); return 1; }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *data = malloc(size + 1);
  if (fread(data, 1, size, f) != (size_t)size) { perror("read"); return 1; }
  fclose(f);

  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", brokers);
  set(conf, "compression.type", codec);
  set(conf, "acks", "all");
  set(conf, "linger.ms", "5");
  set(conf, "batch.num.messages", "10000");
  set(conf, "batch.size", "1000000");
  set(conf, "queue.buffering.max.messages", "1000000");
  set(conf, "queue.buffering.max.kbytes", "1048576");
  /* --idempotence: as ingest produce does by default with acks=all */
  if (flag(argc, argv, "--idempotence")) set(conf, "enable.idempotence", "true");
  set_extra(conf, argc, argv);
  rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
  char err[512];
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) { fprintf(stderr, "%s\n", err); return 1; }
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);

  enum { BATCH = 10000 };
  rd_kafka_message_t *msgs = calloc(BATCH, sizeof *msgs);
  rd_kafka_message_t *sorted = calloc(BATCH, sizeof *msgs);
  int ordered = flag(argc, argv, "--ordered"), partition_cnt = 0;
  if (ordered) {
    const rd_kafka_metadata_t *md;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1 || md->topics[0].err) {
      fprintf(stderr, "--ordered: no metadata for %s\n", topic);
      return 1;
    }
    partition_cnt = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
  }
  int *counts = calloc(partition_cnt + 1, sizeof *counts);
  long sent = 0;
  char *p = data, *end = data + size;
  double t0 = now();
  while (p < end) {
    int n = 0;
    while (n < BATCH && p < end) {
      char *nl = memchr(p, '\n', end - p);
      size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
      if (len > 0) {
        const char *k; size_t kl;
        key_of(p, len, &k, &kl);
        msgs[n].payload = p; msgs[n].len = len;
        msgs[n].key = (void *)k; msgs[n].key_len = kl;
        msgs[n].partition = RD_KAFKA_PARTITION_UA;
        n++;
      }
      p = nl ? nl + 1 : end;
    }
    /* Refused messages (QUEUE_FULL) are compacted to the front and retried after serving
       delivery reports; anything else refused is a failure. */
    int cnt = n, flags = 0;
    if (ordered) {
      /* Bucket 0: no key (librdkafka's sticky partitioner places them); 1..partition_cnt. */
      memset(counts, 0, (partition_cnt + 1) * sizeof *counts);
      for (int i = 0; i < n; i++) {
        if (msgs[i].key) msgs[i].partition = rd_kafka_msg_partitioner_consistent_random(rkt, msgs[i].key, msgs[i].key_len, partition_cnt, NULL, NULL);
        counts[msgs[i].partition + 1]++;
      }
      for (int b = 0, at = 0; b <= partition_cnt; b++) { int c = counts[b]; counts[b] = at; at += c; }
      for (int i = 0; i < n; i++) sorted[counts[msgs[i].partition + 1]++] = msgs[i];
      memcpy(msgs, sorted, n * sizeof *msgs);
      flags = RD_KAFKA_MSG_F_PARTITION;
    }
    while (cnt > 0) {
      int ok = rd_kafka_produce_batch(rkt, RD_KAFKA_PARTITION_UA, flags /* no copy: data outlives the run */, msgs, cnt);
      sent += ok;
      if (ok == cnt) break;
      int w = 0;
      for (int i = 0; i < cnt; i++) {
        if (!msgs[i].err) continue;
        if (msgs[i].err != RD_KAFKA_RESP_ERR__QUEUE_FULL) { failed++; continue; }
        msgs[w] = msgs[i];
        msgs[w].err = 0;
        w++;
      }
      cnt = w;
      rd_kafka_poll(rk, 1);
    }
    rd_kafka_poll(rk, 0);
  }
  while (delivered + failed < sent) rd_kafka_poll(rk, 10);
  double secs = now() - t0;
  printf("{\"contender\":\"c\",\"mode\":\"produce\",\"messages\":%ld,\"failed\":%ld,\"seconds\":%.4f,\"msgs_per_s\":%.0f,\"expected\":%ld}\n", delivered, failed, secs, delivered / secs, want);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  free(msgs);
  free(sorted);
  free(counts);
  free(data);
  return failed ? 1 : 0;
}

static int consume(int argc, char **argv) {
  const char *brokers = arg(argc, argv, "--brokers", NULL), *topic = arg(argc, argv, "--topic", NULL);
  const char *group = arg(argc, argv, "--group", "c-bench");
  long want = atol(arg(argc, argv, "--messages", "0"));
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", brokers);
  set(conf, "group.id", group);
  set(conf, "auto.offset.reset", "earliest");
  set(conf, "enable.auto.commit", "false");
  set(conf, "queued.min.messages", "1000000");
  set(conf, "queued.max.messages.kbytes", "262144"); /* as ingest consume's default */
  char err[512];
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) { fprintf(stderr, "%s\n", err); return 1; }
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(rk, sub);
  rd_kafka_topic_partition_list_destroy(sub);
  rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
  enum { BATCH = 10000 };
  rd_kafka_message_t **ms = malloc(BATCH * sizeof *ms);
  /* --copy: also copy every key and value out of the message before freeing it, as any consumer
     must that hands the bytes on after rd_kafka_message_destroy (ingest's batch.c does exactly
     this). Without it the payloads are never touched. */
  int copy = flag(argc, argv, "--copy");
  enum { COPY_BUF = 64 << 20 };
  char *out = copy ? malloc(COPY_BUF) : NULL;
  size_t used = 0;
  unsigned long sum = 0;
  long got = 0, bytes = 0;
  /* The clock starts at the first message: the group join (3 s on the embedded broker) is the
     broker's, the same for every contender, and not what this measures. */
  double t0 = 0, deadline = now() + 120;
  while (got < want && now() < deadline) {
    ssize_t n = rd_kafka_consume_batch_queue(q, 100, ms, BATCH);
    if (n > 0 && t0 == 0) t0 = now();
    for (ssize_t i = 0; i < n; i++) {
      if (!ms[i]->err) {
        got++;
        bytes += ms[i]->len;
        if (copy) {
          if (used + ms[i]->key_len + ms[i]->len > COPY_BUF) { sum += (unsigned char)out[used / 2]; used = 0; }
          if (ms[i]->key) { memcpy(out + used, ms[i]->key, ms[i]->key_len); used += ms[i]->key_len; }
          if (ms[i]->payload) { memcpy(out + used, ms[i]->payload, ms[i]->len); used += ms[i]->len; }
        }
      }
      rd_kafka_message_destroy(ms[i]);
    }
    if (n > 0) rd_kafka_commit(rk, NULL, 1);
  }
  double secs = now() - t0;
  rd_kafka_commit(rk, NULL, 0);
  if (copy && used) sum += (unsigned char)out[used - 1];
  printf("{\"contender\":\"%s\",\"mode\":\"consume\",\"messages\":%ld,\"failed\":0,\"seconds\":%.4f,\"msgs_per_s\":%.0f,\"bytes\":%ld,\"check\":%lu}\n", copy ? "c-copy" : "c", got, secs, got / secs, bytes, sum);
  free(out);
  rd_kafka_queue_destroy(q);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  free(ms);
  return got == want ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: c-bench produce|consume ...\n"); return 2; }
  if (!strcmp(argv[1], "produce")) return produce(argc, argv);
  if (!strcmp(argv[1], "consume")) return consume(argc, argv);
  fprintf(stderr, "unknown mode %s\n", argv[1]);
  return 2;
}
