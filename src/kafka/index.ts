/** The Kafka layer's public surface: everything else in ingest imports from here. */
export { Producer, MessageBatch, TransactionError, THROUGHPUT_DEFAULTS, checkCompression, canCountWireBytes, type DeliveryCallback } from "./producer.ts";
export { Consumer, CONTENT_TYPE, CONTENT_TYPE_OTHER, type RecordBatch, type RebalanceEvent } from "./consumer.ts";
export { Admin, type ClusterMetadata, type TopicInfo, type GroupListing, type GroupDescription, type GroupMember } from "./admin.ts";
export { MockCluster, MOCK_PARTITION_LIMIT_BYTES } from "./mock.ts";
export { KafkaError, errName } from "./errors.ts";
export type { TopicPartition } from "./partitions.ts";
export { librdkafkaVersion, ERR } from "./ffi.ts";
export { probeBroker, API_KEY, type ProbeResult } from "./probe.ts";
export { isOldBroker, brokerVersionProps, idempotentByDefault } from "./conf.ts";
