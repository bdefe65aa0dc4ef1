/*
 * Per-batch work in C, compiled at start-up by Bun's built-in TinyCC (bun:ffi `cc`), so that
 * no per-message FFI call is needed. Consumer: one call takes a batch from librdkafka and one
 * copies every key and value into a JS buffer, fills the per-record columns and frees the
 * messages (two FFI calls per batch instead of three or four per message). Producer: the
 * batch's message structs, its delivery reports as columns, its values for a JSON file, and a
 * Produce byte counter. No headers (the runtime image has none): the message layout
 * below is rdkafka.h's rd_kafka_message_t on LP64, checked against the header by a test, and
 * librdkafka's functions come in as pointers from the process's own dlopen of it.
 */
typedef unsigned long long u64;
typedef long long i64;

typedef struct {
  int err;
  void *rkt;
  int partition;
  unsigned char *payload;
  u64 len;
  unsigned char *key;
  u64 key_len;
  i64 offset;
  void *priv;
} msg_t;

typedef i64 (*consume_batch_fn)(void *rkqu, int timeout_ms, void **msgs, u64 size);
typedef void (*destroy_fn)(void *msg);
typedef void *(*memcpy_fn)(void *dst, const void *src, u64 n);
static memcpy_fn sys_memcpy;

typedef int (*add_on_request_sent_fn)(void *rk, const char *ic_name, void *on_request_sent, void *ic_opaque);
static add_on_request_sent_fn sys_add_on_request_sent;

/*
 * libc's memcpy, from the process (TinyCC's own loops are unoptimised), and librdkafka's
 * rd_kafka_interceptor_add_on_request_sent (for the wire byte counters below).
 */
void ingest_init(memcpy_fn m, add_on_request_sent_fn add) {
  sys_memcpy = m;
  sys_add_on_request_sent = add;
}

/*
 * Bytes each producer sent in Produce requests (ApiKey 0: its record batches, compressed, with
 * the request's framing), counted by librdkafka's on_request_sent interceptor on its broker
 * threads, one slot per producer. This replaces statistics events every 20 ms for the produce
 * summary's wire byte count: with them librdkafka's main thread took ~4% of the job's CPU
 * samples (mostly clock_gettime), about 5% of the wall time side by side.
 */
#define TX_SLOTS 1024
static i64 tx_bytes[TX_SLOTS];

/*
 * Atomic add without libtcc1 (TinyCC turns __atomic_* into calls to it, which Bun's TinyCC
 * cannot resolve): x86-64's lock xadd. Elsewhere no counting: ingest_tx_on_new gives NULL and
 * the producer falls back to statistics events.
 */
#if defined(__x86_64__)
static void add_i64(i64 *p, i64 v) { __asm__ __volatile__("lock; xaddq %0, %1" : "+r"(v), "+m"(*p) : : "memory"); }

/* api_key is an int16_t: declared int here and masked, whatever the caller left in the upper bits. */
static int on_request_sent(void *rk, int sockfd, const char *brokername, int brokerid, int api_key, int api_version,
                           int corr_id, u64 size, void *ic_opaque) {
  if ((api_key & 0xffff) == 0) add_i64(&tx_bytes[(u64)ic_opaque % TX_SLOTS], (i64)size);
  return 0;
}

/* The on_new interceptor (registered on a conf, called by rd_kafka_new): adds on_request_sent. */
static int on_new(void *rk, const void *conf, void *ic_opaque, char *errstr, u64 errstr_size) {
  return sys_add_on_request_sent(rk, "ingest-tx", (void *)on_request_sent, ic_opaque);
}

void *ingest_tx_on_new(void) { return (void *)on_new; }
#else
void *ingest_tx_on_new(void) { return (void *)0; }
#endif

/* Slot `slot`'s count so far (an aligned 8-byte load). `reset` (only before a producer takes the slot: no writer yet) sets it to 0. */
i64 ingest_tx_bytes(int slot, int reset) {
  if (reset) tx_bytes[slot % TX_SLOTS] = 0;
  return *(volatile i64 *)&tx_bytes[slot % TX_SLOTS];
}

static void copy(unsigned char *dst, const unsigned char *src, u64 n) {
  if (n) sys_memcpy(dst, src, n);
}

/*
 * Take up to max already-fetched messages (timeout 0). out[0] = count, out[1] = bytes the copy
 * needs: keys + values (+ the JSON array's brackets, commas and "null"s when json is set) +
 * error texts. Returns the count, or -1 on error.
 */
int ingest_take(consume_batch_fn consume_batch, void *rkqu, void **msgs, int max, int json, double *out) {
  i64 n = consume_batch(rkqu, 0, msgs, (u64)max);
  if (n < 0) return -1;
  u64 bytes = json ? 2 : 0;
  for (i64 i = 0; i < n; i++) {
    msg_t *m = (msg_t *)msgs[i];
    bytes += m->key_len;
    if (m->err != 0) bytes += m->len;
    else if (json) bytes += (m->len < 4 ? 4 : m->len) + 1;
    else bytes += m->len;
  }
  out[0] = (double)n;
  out[1] = (double)bytes;
  return (int)n;
}

/*
 * Copy the n taken messages into data and free them. Per message i: err, partition, key and
 * value start/length (-1 = null) and offset, rkt (a topic handle, as a number). With json set,
 * data starts with the values as one JSON array text "[v1,v2,...]" (null values as null; error
 * messages are not in it) and its end is returned; keys and error texts follow it. An error
 * message's text is its value. Returns the JSON array's end (0 without json).
 */
int ingest_fill(destroy_fn destroy, void **msgs, int n, unsigned char *data, int json,
                int *err, int *partition, int *key_start, int *key_len, int *val_start, int *val_len,
                double *offset, double *rkt) {
  u64 voff = 0, off = 0;
  if (json) {
    u64 total = 2;
    for (int i = 0; i < n; i++) {
      msg_t *m = (msg_t *)msgs[i];
      if (m->err == 0) total += (m->len < 4 ? 4 : m->len) + 1;
    }
    data[0] = '[';
    voff = 1;
    off = total;
  }
  int first = 1;
  for (int i = 0; i < n; i++) {
    msg_t *m = (msg_t *)msgs[i];
    err[i] = m->err;
    partition[i] = m->partition;
    offset[i] = (double)m->offset;
    rkt[i] = (double)(u64)m->rkt;
    if (m->key) {
      copy(data + off, m->key, m->key_len);
      key_start[i] = (int)off;
      key_len[i] = (int)m->key_len;
      off += m->key_len;
    } else {
      key_start[i] = 0;
      key_len[i] = -1;
    }
    if (json && m->err == 0) {
      if (!first) data[voff++] = ',';
      first = 0;
      if (m->payload) {
        copy(data + voff, m->payload, m->len);
        val_start[i] = (int)voff;
        val_len[i] = (int)m->len;
        voff += m->len;
      } else {
        data[voff] = 'n'; data[voff + 1] = 'u'; data[voff + 2] = 'l'; data[voff + 3] = 'l';
        voff += 4;
        val_start[i] = 0;
        val_len[i] = -1;
      }
    } else if (m->payload) {
      copy(data + off, m->payload, m->len);
      val_start[i] = (int)off;
      val_len[i] = (int)m->len;
      off += m->len;
    } else {
      val_start[i] = 0;
      val_len[i] = -1;
    }
    destroy(m);
  }
  if (!json) return 0;
  data[voff++] = ']';
  return (int)voff;
}

/*
 * The rd_kafka_message_t structs from..to of a produce batch, for rd_kafka_produce_batch: err 0,
 * payload/len and key/key_len from spans (key offset, key length, value offset, value length
 * into data; a length of -1 is null) and _private from opaques. Partition was set at commit.
 * One call per send instead of a JS loop (whose top-tier compile alone took 30-60 CPU ms per
 * worker). The opaque goes through a signed conversion: TinyCC calls libtcc1 for an unsigned one.
 */
void ingest_fill_ptrs(msg_t *msgs, unsigned char *data, const int *spans, const double *opaques, int from, int to) {
  for (int i = from; i < to; i++) {
    msg_t *m = &msgs[i];
    const int *s = spans + i * 4;
    m->err = 0;
    m->payload = s[3] < 0 ? 0 : data + s[2];
    m->len = s[3] < 0 ? 0 : (u64)s[3];
    m->key = s[1] < 0 ? 0 : data + s[0];
    m->key_len = s[1] < 0 ? 0 : (u64)s[1];
    m->priv = (void *)(i64)opaques[i];
  }
}

/*
 * The values of a produce batch (spans as MessageBatch keeps them: key offset, key length,
 * value offset, value length per message), one after another into dst with sep before each but
 * the first one when first is set: the JSON file's bytes straight from the Kafka batch, one call
 * per batch instead of two copies per row in JS. Null values (length -1) give nothing. The caller
 * sized dst (the batch's bytes + n separators). Returns the bytes written.
 */
int ingest_gather(const unsigned char *data, const int *spans, int n, unsigned char *dst, const unsigned char *sep, int seplen, int first) {
  u64 o = 0;
  for (int i = 0; i < n; i++) {
    if (i > 0 || !first) {
      for (int k = 0; k < seplen; k++) dst[o + k] = sep[k];
      o += seplen;
    }
    int len = spans[i * 4 + 3];
    if (len > 0) {
      sys_memcpy(dst + o, data + spans[i * 4 + 2], (u64)len);
      o += len;
    }
  }
  return (int)o;
}

typedef u64 (*message_array_fn)(void *rkev, void **msgs, u64 size);

/*
 * The next up to max messages of a delivery-report event, column by column: err, partition,
 * offset and the opaque (_private) each producer gave its message. The message pointers stay in
 * msgs (the event owns the messages). Returns the count; fewer than max means the event is done.
 */
int ingest_dr(message_array_fn message_array, void *rkev, void **msgs, int max,
              int *err, int *partition, double *offset, double *opaque) {
  u64 n = message_array(rkev, msgs, (u64)max);
  for (u64 i = 0; i < n; i++) {
    msg_t *m = (msg_t *)msgs[i];
    err[i] = m->err;
    partition[i] = m->partition;
    offset[i] = (double)m->offset;
    opaque[i] = (double)(u64)m->priv;
  }
  return (int)n;
}

typedef int (*partitioner_fn)(const void *rkt, const void *key, u64 keylen, int partition_cnt, void *rkt_opaque, void *msg_opaque);

/* A message's bucket in ingest_partition's sort: 0 unassigned, 1..cnt its partition, cnt + 1 any other (it fails at the send). */
static int bucket(int partition, int cnt) {
  if (partition == -1) return 0;
  return partition >= 0 && partition < cnt ? partition + 1 : cnt + 1;
}

static void copy_words(u64 *dst, const u64 *src, int n) {
  for (int k = 0; k < n; k++) dst[k] = src[k];
}

/*
 * Assign the keyed, unassigned (partition -1) messages from..to of a produce batch a partition,
 * with librdkafka's own partitioner function fn (the producer's `partitioner`) for cnt
 * partitions, then order the messages by partition, stably (each partition's messages keep
 * their order), moving structs, spans and opaques alike. A message without a key stays
 * unassigned (librdkafka's sticky partitioner places it at the send) and then the batch keeps its
 * order: where it lands is not known here, and moving keyed messages past it could reorder that
 * partition. tmsgs, tspans and topaques are scratch for to - from messages; counts has room for
 * cnt + 2 ints.
 * Why: rd_kafka_produce_batch then enqueues runs of one partition, not a partition per message.
 * Measured: docs/design.md, "Batches ordered by partition".
 */
void ingest_partition(msg_t *msgs, int *spans, double *opaques, const unsigned char *data, int from, int to,
                      partitioner_fn fn, void *rkt, int cnt, msg_t *tmsgs, int *tspans, double *topaques, int *counts) {
  for (int b = 0; b < cnt + 2; b++) counts[b] = 0;
  for (int i = from; i < to; i++) {
    msg_t *m = &msgs[i];
    const int *s = spans + i * 4;
    if (m->partition == -1 && s[1] >= 0) m->partition = fn(rkt, data + s[0], (u64)s[1], cnt, 0, 0);
    counts[bucket(m->partition, cnt)]++;
  }
  if (counts[0] > 0) return;
  int at = 0;
  for (int b = 0; b < cnt + 2; b++) {
    int c = counts[b];
    counts[b] = at;
    at += c;
  }
  for (int i = from; i < to; i++) {
    int j = counts[bucket(msgs[i].partition, cnt)]++;
    copy_words((u64 *)&tmsgs[j], (const u64 *)&msgs[i], sizeof(msg_t) / 8);
    for (int k = 0; k < 4; k++) tspans[j * 4 + k] = spans[i * 4 + k];
    topaques[j] = opaques[i];
  }
  int n = to - from;
  sys_memcpy(&msgs[from], tmsgs, (u64)n * sizeof(msg_t));
  sys_memcpy(&spans[from * 4], tspans, (u64)n * 16);
  sys_memcpy(&opaques[from], topaques, (u64)n * 8);
}

/*
 * Record headers. Producer: every message a producer sends through rd_kafka_produce_batch
 * (which takes no headers) gets a copy of one header list (content-type, schema name and
 * version), added by an on_send interceptor that librdkafka calls for each message as it is
 * created, before it is queued. rdkafka.h calls the message "immutable" there; what the
 * interceptor does is what rd_kafka_producev(RD_KAFKA_V_HEADERS) does at the same point of
 * rd_kafka_msg_new0: set the new message's header list, which nothing has read yet (a test
 * reads every record's headers back). A message that already has headers keeps them.
 * Consumer: the content-type header of each message, as a small code (see ingest_content_type).
 */
typedef void *(*headers_copy_fn)(const void *hdrs);
typedef int (*message_headers_fn)(const void *msg, void **hdrs);
typedef void (*message_set_headers_fn)(void *msg, void *hdrs);
typedef int (*header_get_last_fn)(const void *hdrs, const char *name, const void **valuep, u64 *sizep);
typedef int (*add_on_send_fn)(void *rk, const char *ic_name, void *on_send, void *ic_opaque);
static headers_copy_fn sys_headers_copy;
static message_headers_fn sys_message_headers;
static message_set_headers_fn sys_message_set_headers;
static header_get_last_fn sys_header_get_last;
static add_on_send_fn sys_add_on_send;

void ingest_init_headers(headers_copy_fn copy_fn, message_headers_fn get, message_set_headers_fn set, header_get_last_fn last, add_on_send_fn add) {
  sys_headers_copy = copy_fn;
  sys_message_headers = get;
  sys_message_set_headers = set;
  sys_header_get_last = last;
  sys_add_on_send = add;
}

static int on_send_headers(void *rk, void *msg, void *template_hdrs) {
  void *have = 0;
  if (sys_message_headers(msg, &have) == 0 && have) return 0;
  sys_message_set_headers(msg, sys_headers_copy(template_hdrs));
  return 0;
}

/* The on_new interceptor (rd_kafka_conf_interceptor_add_on_new, opaque: the header list to copy): adds on_send. */
static int on_new_headers(void *rk, const void *conf, void *template_hdrs, char *errstr, u64 errstr_size) {
  return sys_add_on_send(rk, "ingest-headers", (void *)on_send_headers, template_hdrs);
}

void *ingest_headers_on_new(void) { return (void *)on_new_headers; }

static int same(const unsigned char *a, u64 n, const char *lit) {
  u64 i = 0;
  for (; i < n && lit[i]; i++)
    if (a[i] != (unsigned char)lit[i]) return 0;
  /* The media type alone, or followed by its parameters ("avro/binary; schema=..."). */
  return !lit[i] && (i == n || a[i] == ';' || a[i] == ' ');
}

/*
 * A message's content-type header as a code: 0 none, 1 application/json, 2 avro/binary,
 * 3 application/msgpack, 255 another value.
 */
static unsigned char content_type(const void *msg) {
  void *hdrs = 0;
  const unsigned char *v = 0;
  u64 n = 0;
  if (sys_message_headers(msg, &hdrs) != 0 || !hdrs) return 0;
  if (sys_header_get_last(hdrs, "content-type", (const void **)&v, &n) != 0 || !v) return 0;
  if (same(v, n, "application/json")) return 1;
  if (same(v, n, "avro/binary")) return 2;
  if (same(v, n, "application/msgpack")) return 3;
  return 255;
}

/* The content-type codes of n taken messages (before ingest_fill frees them). */
void ingest_content_types(void **msgs, int n, unsigned char *out) {
  for (int i = 0; i < n; i++) out[i] = ((msg_t *)msgs[i])->err == 0 ? content_type(msgs[i]) : 0;
}
