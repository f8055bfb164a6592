// Package it holds logsys's integration tests against real services (an
// Apache Kafka cluster started by it/kafka.sh) and the small helpers they
// and it/cmd/kafkactl share: TLS client material from a `logsys pki`
// directory, and the cluster's topics, ACLs and dynamic client-auth switch.
//
// The tests skip with a message when LOGSYS_TEST_KAFKA_BROKERS is unset,
// and fail instead when CI is set.
package it
