/*
 * The Java client contender of `bun run bench`: Kafka's own producer and consumer
 * (org.apache.kafka:kafka-clients, the version tools/kafka/pom.xml resolves), doing what
 * c/bench.c does, under the same command-line contract (bench/README.md).
 *
 *   java -cp build/java:<kafka classpath> Bench produce --brokers B --topic T --messages N --file F
 *        [--compression lz4] [--idempotence] [--batch-size B]
 *     Loads the NDJSON file into memory first, then sends every line keyed by its "id" field
 *     (the bytes after "id": up to ',' or '}', as c/bench.c scans it), acks=all, and waits for
 *     every callback. The clock runs from the first send to the last callback; the JIT warms up
 *     inside it. --batch-size (default 1000000, as the others) is for trying the Java client's
 *     own (16384): its batch.size is the size of the buffer each batch gets, not only a cap.
 *   java ... Bench consume --brokers B --topic T --messages N --group G
 *     Subscribes in a group (auto commit off), polls N records without decoding them, commits
 *     async after every poll that returned records and sync at the end. The clock runs from the
 *     first record to the N-th.
 *
 * Kafka's ProducerPerformance sends no keys (and picks its payloads at random from the file),
 * so it is not the same job: this class is. Settings mirror c/bench.c's librdkafka settings.
 *
 * Prints one JSON line: {"contender":"java","mode":...,"messages":...,"failed":...,"seconds":...}
 */
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class Bench {
  static String arg(String[] a, String name, String def) {
    for (int i = 1; i < a.length - 1; i++) if (a[i].equals(name)) return a[i + 1];
    if (def == null) {
      System.err.println("missing " + name);
      System.exit(2);
    }
    return def;
  }

  static boolean flag(String[] a, String name) {
    for (int i = 1; i < a.length; i++) if (a[i].equals(name)) return true;
    return false;
  }

  static int indexOf(byte[] b, int from, int to, byte[] pat) {
    outer:
    for (int i = from; i <= to - pat.length; i++) {
      for (int j = 0; j < pat.length; j++) if (b[i + j] != pat[j]) continue outer;
      return i;
    }
    return -1;
  }

  static final byte[] ID = "\"id\":".getBytes();

  static int produce(String[] a) throws Exception {
    String brokers = arg(a, "--brokers", null), topic = arg(a, "--topic", null), file = arg(a, "--file", null);
    long want = Long.parseLong(arg(a, "--messages", "0"));
    byte[] data = Files.readAllBytes(Path.of(file));
    Properties p = new Properties();
    p.put("bootstrap.servers", brokers);
    p.put("compression.type", arg(a, "--compression", "lz4"));
    p.put("acks", "all");
    p.put("enable.idempotence", flag(a, "--idempotence") ? "true" : "false");
    p.put("linger.ms", "5");
    // librdkafka's batch.size=1000000 and queue.buffering.max.kbytes=1048576 (c/bench.c).
    p.put("batch.size", arg(a, "--batch-size", "1000000"));
    p.put("buffer.memory", String.valueOf(1L << 30));
    p.put("key.serializer", ByteArraySerializer.class.getName());
    p.put("value.serializer", ByteArraySerializer.class.getName());
    AtomicLong delivered = new AtomicLong(), failed = new AtomicLong();
    Callback cb = (md, e) -> {
      if (e != null) failed.incrementAndGet();
      else delivered.incrementAndGet();
    };
    long sent = 0;
    double secs;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      long t0 = System.nanoTime();
      int pos = 0;
      while (pos < data.length && sent < want) {
        int nl = pos;
        while (nl < data.length && data[nl] != '\n') nl++;
        if (nl > pos) {
          byte[] key = null;
          int k = indexOf(data, pos, nl, ID);
          if (k >= 0) {
            int s = k + ID.length, e = s;
            while (e < nl && data[e] != ',' && data[e] != '}') e++;
            key = Arrays.copyOfRange(data, s, e);
          }
          producer.send(new ProducerRecord<>(topic, key, Arrays.copyOfRange(data, pos, nl)), cb);
          sent++;
        }
        pos = nl + 1;
      }
      producer.flush();
      secs = (System.nanoTime() - t0) / 1e9;
    }
    System.out.printf("{\"contender\":\"java\",\"mode\":\"produce\",\"messages\":%d,\"failed\":%d,\"seconds\":%.4f,\"msgs_per_s\":%.0f}%n",
        delivered.get(), failed.get(), secs, delivered.get() / secs);
    return failed.get() == 0 && delivered.get() == sent ? 0 : 1;
  }

  static int consume(String[] a) {
    String brokers = arg(a, "--brokers", null), topic = arg(a, "--topic", null), group = arg(a, "--group", "java-bench");
    long want = Long.parseLong(arg(a, "--messages", "0"));
    Properties p = new Properties();
    p.put("bootstrap.servers", brokers);
    p.put("group.id", group);
    p.put("auto.offset.reset", "earliest");
    p.put("enable.auto.commit", "false");
    // c/bench.c takes up to 10,000 messages per rd_kafka_consume_batch_queue call.
    p.put("max.poll.records", "10000");
    p.put("key.deserializer", ByteArrayDeserializer.class.getName());
    p.put("value.deserializer", ByteArrayDeserializer.class.getName());
    long got = 0, bytes = 0, t0 = 0;
    long deadline = System.nanoTime() + 120_000_000_000L;
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
      c.subscribe(List.of(topic));
      while (got < want && System.nanoTime() < deadline) {
        ConsumerRecords<byte[], byte[]> rs = c.poll(Duration.ofMillis(100));
        if (rs.isEmpty()) continue;
        if (t0 == 0) t0 = System.nanoTime();
        for (var r : rs) {
          got++;
          bytes += r.serializedValueSize();
        }
        c.commitAsync();
      }
      double secs = (System.nanoTime() - t0) / 1e9;
      c.commitSync();
      System.out.printf("{\"contender\":\"java\",\"mode\":\"consume\",\"messages\":%d,\"failed\":0,\"seconds\":%.4f,\"msgs_per_s\":%.0f,\"bytes\":%d}%n",
          got, secs, got / secs, bytes);
    }
    return got == want ? 0 : 1;
  }

  public static void main(String[] a) throws Exception {
    if (a.length < 1) {
      System.err.println("usage: Bench produce|consume ...");
      System.exit(2);
    }
    System.exit(switch (a[0]) {
      case "produce" -> produce(a);
      case "consume" -> consume(a);
      default -> {
        System.err.println("unknown mode " + a[0]);
        yield 2;
      }
    });
  }
}
