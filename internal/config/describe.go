package config

import "strings"

// docs describes every key and section of the tree in one line each. A
// "*." entry covers that suffix in every section (the tls, store and kafka
// sections repeat); an exact entry wins. TestDocs fails when a key has no
// description or an entry describes nothing.
var docs = map[string]string{
	"log":        "Structured logs on stderr of gateway, producer, consumer, all and ca.",
	"log.level":  "debug, info, warn or error",
	"log.format": "text or json",

	"*.tls":                  "Certificate, trust and TLS policy. Files default to the `logsys pki init` layout: <pki_dir>/<env>/<name>/cert.pem and key.pem, <pki_dir>/<env>/ca.pem (the only trust anchor: the environment's intermediate), bundle.pem during an intermediate rollover, crl.pem. With ca_url the certificate comes from `logsys ca` instead.",
	"*.tls.pki_dir":          "directory made by `logsys pki init`",
	"*.tls.trust_domain":     "SPIFFE trust domain of the identity spiffe://<trust_domain>/<env>/<name>",
	"*.tls.env":              "environment whose certificates to use and whose peers to trust",
	"*.tls.name":             "identity name: the leaf presented (<pki_dir>/<env>/<name>)",
	"*.tls.cert_file":        "certificate chain; empty: from the layout",
	"*.tls.key_file":         "private key; empty: from the layout",
	"*.tls.ca_file":          "trust anchor (the environment's intermediate); empty: from the layout",
	"*.tls.bundle_file":      "intermediates during a rollover, read when present; empty: from the layout",
	"*.tls.crl_file":         "CRLs of the environment; empty: from the layout",
	"*.tls.reload_interval":  "poll period backing the file watch; with ca_url, period of the trust fetch that reports what the role trusts",
	"*.tls.min_tls":          `"1.3" or "1.2" (then ECDHE+AEAD suites only)`,
	"*.tls.key_exchange":     "hybrid (X25519MLKEM768 first) or x25519",
	"*.tls.ca_url":           "obtain and renew the certificate from `logsys ca` at this URL instead of reading pki_dir: the key stays in state_dir (0600), renewal at 2/3 of the lifetime, hot swap",
	"*.tls.ca_token":         "single-use bootstrap token from `logsys pki token` (secret; needed only while state_dir holds no valid certificate)",
	"*.tls.ca_token_file":    "file holding the bootstrap token, instead of ca_token",
	"*.tls.ca_bundle":        "the environment's ca-chain.pem, to verify the CA at first contact",
	"*.tls.state_dir":        "where a ca_url workload keeps its key, certificate and trust bundle",
	"*.tls.expiry_threshold": "health turns DOWN when a certificate in use expires within this",
	"*.tls.max_conn_age":     "listeners close each connection at this age (in [0.9, 1] of it; HTTP requests in flight finish)",
	"*.tls.crl_grace":        "how long past nextUpdate the CRL still counts (health DOWN meanwhile); after it every peer is refused",

	"*.store":           "Where events are stored: PostgreSQL when dsn is set, else the embedded store.",
	"*.store.dsn":       "postgres://user@host:port/db?sslmode=verify-full&sslrootcert=...&sslcert=...&sslkey=... (its password is redacted when printed); empty: embedded store",
	"*.store.data_dir":  "directory of the embedded store",
	"*.store.max_conns": "PostgreSQL pool size; 0: pgx's default",

	"*.kafka":             "How the role reaches the brokers.",
	"*.kafka.brokers":     "bootstrap brokers, host:port (comma-separated in the environment)",
	"*.kafka.broker_name": "identity name the brokers must present",
	"*.kafka.topic":       "topic of the events",
	"*.kafka.dlq_topic":   "dead-letter topic for records that cannot be stored",

	"*.addr":           "HTTPS listen address (mutual TLS)",
	"*.liveness_addr":  "plain-HTTP /healthz without a client certificate; loopback only; empty: off",
	"*.scrapers":       "identity names that may read /metrics",
	"*.shutdown_grace": "how long in-flight work may take to finish after a stop signal",

	"gateway":                           "The HTTPS entry point: clients with certificates send and read events.",
	"gateway.clients":                   "identity names that may send and read events",
	"gateway.max_body_bytes":            "largest single event request; larger bodies get 413",
	"gateway.max_batch_bytes":           "largest batch request",
	"gateway.max_batch_events":          "most events per batch request",
	"gateway.max_inflight_bytes":        "request body bytes in flight at once (reserved by Content-Length before reading); beyond it 503 with Retry-After",
	"gateway.max_inflight_events":       "events in flight at once, until the producer answers; beyond it 503 with Retry-After",
	"gateway.otlp":                      "OTLP/HTTP logs on POST /v1/logs (docs/otlp.md): the same listener and clients; max_batch_bytes bounds the body on the wire and once decompressed, max_batch_events its records.",
	"gateway.otlp.max_attributes":       "attributes kept per resource, per scope and per record; the rest are dropped and counted in metadata.dropped_attributes_count",
	"gateway.producer":                  "The gateway->producer hop.",
	"gateway.producer.url":              "the producer's base URL, https://host:port (the gateway appends /internal/v1/events; that legacy full form is accepted too, any other path is refused)",
	"gateway.producer.name":             "identity name the producer must present",
	"gateway.producer.http2":            "HTTP/2 instead of HTTP/1.1 keep-alive (measured slower here for small requests)",
	"gateway.producer.max_batch":        "events coalesced into one request",
	"gateway.producer.max_batch_bytes":  "bytes of events coalesced into one request (keep below the producer's max_body_bytes; one larger request is sent alone)",
	"gateway.producer.workers":          "batches in flight at once, at most one of them partial (and pooled connections)",
	"gateway.producer.timeout":          "bound on one request to the producer",
	"gateway.producer.retries":          "retries of a failed batch",
	"gateway.producer.backoff":          "first pause between retries (doubling)",
	"gateway.producer.breaker_failures": "consecutive failures that open the circuit breaker",
	"gateway.producer.breaker_cooldown": "how long the open breaker refuses before it tries again",

	"producer":                "Accepts batches from the gateway and writes them to Kafka (acks=all, idempotent).",
	"producer.callers":        "identity names that may post events",
	"producer.compression":    "lz4 (measured 1.2-1.45x zstd throughput here), zstd, snappy or none",
	"producer.linger":         "how long the Kafka client waits to fill a batch; 0: send at once",
	"producer.max_body_bytes": "largest batch request from the gateway",
	"producer.pack":           "write a request's events of one source as one Kafka record (a pack, docs/operations.md); false: one record per event",
	"producer.max_pack_bytes": "largest value of one pack; a larger group of events is split (at most 983040, under Kafka's default 1 MiB)",
	"producer.http1":          "serve HTTP/1.1 only (for measurements)",

	"consumer":                "Reads events from Kafka in a consumer group and stores them; its addr serves health and metrics.",
	"consumer.group":          "Kafka consumer group",
	"consumer.batch_size":     "most events written to the store at once, and most Kafka records one poll takes (a pack holds many events)",
	"consumer.store_writers":  "transactions a batch is written in at once, split by event key; 1: one",
	"consumer.flush_interval": "how long a partial batch may wait to fill; 0: write at once",
	"consumer.retry_backoff":  "pause before retrying a failed store write (doubling up to 10s)",
	"consumer.write_timeout":  "longest one attempt to store a batch may take before it is retried",

	"all":                    "`logsys all`: everything in one process on loopback. data_dir holds pki/, kafka/, store/ and identities/; it owns the roles' pki_dir, brokers, producer url and store (setting those is an error), and ca_url etc. with use_ca.",
	"all.data_dir":           "where the PKI, broker data, store and CA-issued identities live",
	"all.listen_host":        "host the gateway, producer and consumer listen on while their addr is the default; empty: every interface",
	"all.store_dsn":          "PostgreSQL DSN instead of the embedded store (its password is redacted when printed)",
	"all.use_ca":             "roles get short-lived certificates from an online CA (false: the pki files)",
	"all.ca_addr":            "listen address of the online CA",
	"all.leaf_ttl":           "lifetime of the roles' certificates from the CA",
	"all.ca_publish_delay":   "least time a new intermediate is published before it signs; it also waits until every role reports it",
	"all.broker":             "The embedded Kafka-compatible broker (mutual TLS on 127.0.0.1, data in data_dir/kafka).",
	"all.broker.port":        "broker port on 127.0.0.1; 0: any free port",
	"all.broker.partitions":  "partitions of each seeded topic",
	"all.broker.topics":      "topics created at start",
	"all.broker.clients":     "identity names that may connect",
	"all.broker.sync_writes": "fsync every produced batch before acknowledging it",

	"all.broker.retention":        "records older than this are deleted (Kafka's retention.ms, by the broker's append time); at least 1m; 0: no time limit",
	"all.broker.retention_bytes":  "most bytes kept per partition, the oldest deleted beyond it (Kafka's retention.bytes; segments of a quarter of it); at least 1 MiB; 0: no size limit",
	"all.broker.keep_uncommitted": "never delete records the consumer group has not committed, even past retention (the lag alert fires); false: Kafka semantics",

	"ca":                   "`logsys ca`: the online issuing service of one environment.",
	"ca.pki_dir":           "PKI directory made by `logsys pki init`",
	"ca.env":               "environment whose intermediate signs",
	"ca.addr":              "HTTPS listen address",
	"ca.leaf_ttl":          "lifetime of issued certificates (at least 5s)",
	"ca.publish_delay":     "least time a new intermediate is published before it signs (for readers of the pki files); it also waits for every member's report",
	"ca.rollover_max_wait": "activate a new intermediate this long after publishing it even if a member has not reported it (logged, alerted); 0: wait",
	"ca.admins":            "workload names whose client certificates may read the rollover status (`logsys ca status`)",
	"ca.hosts":             "extra DNS names or IPs of the CA's own certificate",
	"ca.poll_interval":     "how often the PKI directory is re-read; each time CRLs at half their life are re-signed",
	"ca.crl_grace":         "how long past nextUpdate a CRL still counts; a missing, stale or older-numbered CRL is never loaded and renewals are refused until a valid one is",
	"ca.metrics_addr":      "serve Prometheus /metrics over plain HTTP on this address; empty: off",

	"pki":       "The `logsys pki` commands.",
	"pki.dir":   "PKI directory of every pki subcommand",
	"pki.hosts": "extra DNS names or IPs `pki init` adds to every leaf",

	"health":         "`logsys health --liveness URL | --url URL`: one probe for container health checks; exit 0 when UP. These keys set the certificate presented for --url.",
	"health.pki_dir": "PKI directory of the certificate presented for url",
	"health.env":     "environment of the certificate presented for url",
	"health.name":    "identity presented for url (the role must admit it)",
	"health.timeout": "give up after this long",

	"dlq":             "`logsys dlq list|show|replay`: the dead letters, read and replayed with the operator's certificate (docs/operations.md).",
	"dlq.pki_dir":     "PKI directory of the certificate presented to the brokers",
	"dlq.env":         "environment of that certificate",
	"dlq.name":        "identity presented to the brokers (their ACLs grant `operator` reading dead letters and writing events)",
	"dlq.brokers":     "bootstrap brokers (host:port,...)",
	"dlq.broker_name": "identity name the brokers must present",
	"dlq.topic":       "topic replays are written to",
	"dlq.dlq_topic":   "topic the consumer dead-letters to",
	"dlq.timeout":     "bound on reading the topic, and on a replay",

	"bench":            "`logsys bench`: measure what security costs.",
	"bench.quick":      "a ~10 s smoke run: the other bench keys default to short arms, few handshakes, a storm of 200",
	"bench.duration":   "bound on the whole run; sections that no longer fit are skipped",
	"bench.arm":        "measuring time of each arm (a comparison runs two arms, interleaved)",
	"bench.conns":      "concurrent senders per arm",
	"bench.rate":       "requests per second per arm (0: closed loop, as fast as answers come)",
	"bench.requests":   "stop each arm after this many requests (0: by time)",
	"bench.batch":      "events per request of the batch arm (with gateway set, default 1: single events)",
	"bench.handshakes": "handshakes per cell of the handshake table",
	"bench.storm":      "clients of the reconnect storm (0 skips it)",
	"bench.key_types":  "leaf key types of the handshake table (ecdsa-p256, ed25519, rsa2048, rsa4096)",
	"bench.data_dir":   "where the bench PKI, broker and store live; empty: a temporary directory, removed",
	"bench.gateway":    "https URL of a running gateway to drive instead of the embedded pipeline",
	"bench.cert_file":  "client certificate for gateway",
	"bench.key_file":   "client key for gateway",
	"bench.ca_file":    "CA chain (ca-chain.pem) for gateway",
	"bench.http2":      "with gateway: HTTP/2 instead of HTTP/1.1 keep-alive",
	"bench.brokers":    "real Kafka brokers (host:port,...) for the producer instead of the embedded broker; needs pki_dir",
	"bench.pki_dir":    "with brokers: the PKI the brokers trust (gateway, producer, client identities of env dev)",
}

// Describe returns the one-line description of a key or section.
func Describe(key string) string { return docs[describedBy(key)] }

// describedBy returns the docs entry that describes key: the key itself,
// else the longest "*." suffix entry; "" if none.
func describedBy(key string) string {
	if _, ok := docs[key]; ok {
		return key
	}
	parts := strings.Split(key, ".")
	for i := 1; i < len(parts); i++ {
		if p := "*." + strings.Join(parts[i:], "."); docs[p] != "" {
			return p
		}
	}
	return ""
}
