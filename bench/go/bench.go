// go-bench: the Go contender, written the way the predecessor's Go service was: Debian's
// confluent-kafka-go 0.11.6 (cgo over the system librdkafka), GOPATH mode, no modules.
//
//	go-bench produce --brokers B --topic T --messages N --file F [--compression lz4]
//	  Loads the NDJSON file into memory first (as c-bench does), then goroutines (one per CPU)
//	  scan their share of the lines, key each by its "id" field and push *kafka.Message onto
//	  ProduceChannel (go.batch.producer=true: the binding batches into rd_kafka_produce_batch);
//	  one goroutine drains Events() for the delivery reports. The clock runs from the first
//	  message handed to the binding to the last delivery report (same as c-bench).
//	go-bench consume --brokers B --topic T --messages N --group G
//	  Subscribes in a consumer group (enable.auto.commit=false), Poll()s N messages without
//	  decoding them, commits every 10,000 messages (in a goroutine, one in flight: Commit() blocks
//	  in this binding) and synchronously at the end. The clock runs from the first message to the
//	  last (same as c-bench: the group join is the broker's, not the binding's).
//
// Prints one JSON line: {"contender":"go","mode":...,"messages":...,"failed":...,"seconds":...}
package main

import (
	"bytes"
	"fmt"
	"io/ioutil"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/kafka"
)

func arg(name, def string) string {
	for i := 2; i < len(os.Args)-1; i++ {
		if os.Args[i] == name {
			return os.Args[i+1]
		}
	}
	if def == "" {
		fmt.Fprintf(os.Stderr, "missing %s\n", name)
		os.Exit(2)
	}
	return def
}

var idTag = []byte(`"id":`)

// keyOf returns the "id" value of a flat JSON line: the bytes after "id": up to , or } (the same
// scan as c-bench and ingest, no JSON parser).
func keyOf(line []byte) []byte {
	i := bytes.Index(line, idTag)
	if i < 0 {
		return nil
	}
	v := line[i+len(idTag):]
	e := 0
	for e < len(v) && v[e] != ',' && v[e] != '}' {
		e++
	}
	return v[:e]
}

func produce() int {
	brokers, topic := arg("--brokers", ""), arg("--topic", "")
	file, codec := arg("--file", ""), arg("--compression", "lz4")
	want, _ := strconv.Atoi(arg("--messages", "0"))
	data, err := ioutil.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The same librdkafka settings as c-bench, so the comparison is of the binding.
	p, err := kafka.NewProducer(&kafka.ConfigMap{
		"bootstrap.servers":            brokers,
		"compression.type":             codec,
		"acks":                         "all",
		"linger.ms":                    5,
		"batch.num.messages":           10000,
		"batch.size":                   1000000,
		"queue.buffering.max.messages": 1000000,
		"queue.buffering.max.kbytes":   1048576,
		"go.batch.producer":            true,
		"go.delivery.reports":          true,
		"go.events.channel.size":       1000000,
		"go.produce.channel.size":      1000000,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	// Split the file into one chunk of whole lines per worker.
	workers := runtime.NumCPU()
	var chunks [][]byte
	rest := data
	for w := workers; w > 1 && len(rest) > 0; w-- {
		cut := len(rest) / w
		nl := bytes.IndexByte(rest[cut:], '\n')
		if nl < 0 {
			break
		}
		chunks = append(chunks, rest[:cut+nl+1])
		rest = rest[cut+nl+1:]
	}
	if len(rest) > 0 {
		chunks = append(chunks, rest)
	}

	var delivered, failed int64
	var sent int64
	allSent := make(chan struct{})
	done := make(chan struct{})
	// Delivery reports (and produce errors) arrive as *kafka.Message on Events(), drained from
	// the start; done once every line handed over has its report.
	go func() {
		var n int64
		finished := false
		sentCh := allSent
		deadline := time.NewTimer(120 * time.Second)
		for {
			if finished && n >= atomic.LoadInt64(&sent) {
				break
			}
			select {
			case ev := <-p.Events():
				if m, ok := ev.(*kafka.Message); ok {
					if m.TopicPartition.Error != nil {
						failed++
					} else {
						delivered++
					}
					n++
				}
			case <-sentCh:
				finished = true
				sentCh = nil
			case <-deadline.C:
				// A message the binding dropped without a report (its batch path ignores
				// per-message errors): count it failed rather than hang.
				failed += atomic.LoadInt64(&sent) - n
				n = atomic.LoadInt64(&sent)
				finished = true
			}
		}
		close(done)
	}()

	t0 := time.Now()
	var wg sync.WaitGroup
	pc := p.ProduceChannel()
	for _, chunk := range chunks {
		wg.Add(1)
		go func(c []byte) {
			defer wg.Done()
			var n int64
			for len(c) > 0 {
				nl := bytes.IndexByte(c, '\n')
				var line []byte
				if nl < 0 {
					line, c = c, nil
				} else {
					line, c = c[:nl], c[nl+1:]
				}
				if len(line) == 0 {
					continue
				}
				pc <- &kafka.Message{
					TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
					Key:            keyOf(line),
					Value:          line,
				}
				n++
			}
			atomic.AddInt64(&sent, n)
		}(chunk)
	}
	wg.Wait()
	close(allSent)
	<-done
	secs := time.Since(t0).Seconds()
	fmt.Printf("{\"contender\":\"go\",\"mode\":\"produce\",\"messages\":%d,\"failed\":%d,\"seconds\":%.4f,\"msgs_per_s\":%.0f,\"expected\":%d}\n",
		delivered, failed, secs, float64(delivered)/secs, want)
	p.Close()
	if failed > 0 {
		return 1
	}
	return 0
}

func consume() int {
	brokers, topic := arg("--brokers", ""), arg("--topic", "")
	group := arg("--group", "go-bench")
	want, _ := strconv.ParseInt(arg("--messages", "0"), 10, 64)
	c, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers":   brokers,
		"group.id":            group,
		"auto.offset.reset":   "earliest",
		"enable.auto.commit":  false,
		"queued.min.messages": 1000000,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := c.SubscribeTopics([]string{topic}, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var got, byteCount int64
	var t0 time.Time
	deadline := time.Now().Add(120 * time.Second)
	var committing int32
	sinceCommit := 0
	for got < want && time.Now().Before(deadline) {
		switch e := c.Poll(100).(type) {
		case *kafka.Message:
			if t0.IsZero() {
				t0 = time.Now()
			}
			if e.TopicPartition.Error == nil {
				got++
				byteCount += int64(len(e.Value))
				sinceCommit++
			}
		case kafka.Error:
			fmt.Fprintln(os.Stderr, "consumer error:", e)
		}
		// Commit() blocks for the broker's answer: run it beside the poll loop, one at a time.
		if sinceCommit >= 10000 && atomic.CompareAndSwapInt32(&committing, 0, 1) {
			sinceCommit = 0
			go func() {
				c.Commit()
				atomic.StoreInt32(&committing, 0)
			}()
		}
	}
	secs := time.Since(t0).Seconds()
	for atomic.LoadInt32(&committing) != 0 {
		time.Sleep(time.Millisecond)
	}
	// ErrNoOffset: the last periodic commit already covered everything read.
	if _, err := c.Commit(); err != nil && err.(kafka.Error).Code() != kafka.ErrNoOffset {
		fmt.Fprintln(os.Stderr, "final commit:", err)
	}
	fmt.Printf("{\"contender\":\"go\",\"mode\":\"consume\",\"messages\":%d,\"failed\":0,\"seconds\":%.4f,\"msgs_per_s\":%.0f,\"bytes\":%d}\n",
		got, secs, float64(got)/secs, byteCount)
	c.Close()
	if got != want {
		return 1
	}
	return 0
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go-bench produce|consume ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "produce":
		os.Exit(produce())
	case "consume":
		os.Exit(consume())
	}
	fmt.Fprintf(os.Stderr, "unknown mode %s\n", os.Args[1])
	os.Exit(2)
}
