/*
 * Consumer batch copy, compiled at start-up by Bun's built-in TinyCC (bun:ffi `cc`).
 * One call takes a batch from librdkafka and one call copies every key and value into a JS
 * buffer, fills the per-record columns and frees the messages: two FFI calls per batch instead
 * of three or four per message. No headers (the runtime image has none): the message layout
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

/* libc's memcpy, from the process (TinyCC's own loops are unoptimised). */
void ingest_init(memcpy_fn m) { sys_memcpy = m; }

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
