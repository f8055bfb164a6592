package it

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"logsys/kafkaacl"
	"logsys/tlsx"
)

// Names of the pipeline's Kafka resources and identities (kafkaacl owns
// them).
const (
	TopicEvents = kafkaacl.TopicEvents
	TopicDLQ    = kafkaacl.TopicDLQ
	Group       = kafkaacl.Group

	// Broker is the brokers' identity and the cluster's super user.
	Broker = kafkaacl.SuperUser
	// TrustDomain is the SPIFFE trust domain of `logsys pki init`'s default.
	TrustDomain = "logsys.local"
)

// Environment variables printed by `it/kafka.sh start` and `env`.
const (
	EnvBrokers = "LOGSYS_TEST_KAFKA_BROKERS"
	EnvPKI     = "LOGSYS_TEST_KAFKA_PKI"
	EnvEnv     = "LOGSYS_TEST_KAFKA_ENV"
	EnvNodes   = "LOGSYS_TEST_KAFKA_NODES"
	EnvCtl     = "LOGSYS_TEST_KAFKA_CTL"
)

// Cluster describes a running it/kafka.sh cluster.
type Cluster struct {
	Brokers []string // client listeners, host:port
	PKI     string   // the `logsys pki init` directory
	Env     string   // its environment, e.g. "dev"
	Nodes   int      // 1 or 3
	Ctl     string   // path of it/kafka.sh, for stop/start of nodes
}

// ClusterFromEnv reads the variables printed by it/kafka.sh. ok is false
// when LOGSYS_TEST_KAFKA_BROKERS is unset; err reports an incomplete set.
func ClusterFromEnv() (c Cluster, ok bool, err error) {
	b := os.Getenv(EnvBrokers)
	if b == "" {
		return Cluster{}, false, nil
	}
	c = Cluster{Brokers: strings.Split(b, ","), PKI: os.Getenv(EnvPKI), Env: os.Getenv(EnvEnv), Nodes: 1, Ctl: os.Getenv(EnvCtl)}
	if c.PKI == "" {
		return c, true, fmt.Errorf("%s is set but %s is not", EnvBrokers, EnvPKI)
	}
	if c.Env == "" {
		c.Env = "dev"
	}
	if n := os.Getenv(EnvNodes); n != "" {
		if c.Nodes, err = strconv.Atoi(n); err != nil {
			return c, true, fmt.Errorf("%s: %w", EnvNodes, err)
		}
	}
	return c, true, nil
}

// Dialer returns the product's mutual-TLS dialer for workload name of env,
// accepting only brokers that present the kafka identity of env.
func Dialer(pki, env, name string) (*tlsx.Dialer, error) {
	cfg := tlsx.LayoutSource(pki, env, name)
	cfg.Name = env + "/" + name
	src, err := tlsx.NewSource(cfg)
	if err != nil {
		return nil, err
	}
	return tlsx.NewDialer(src, tlsx.AuthorizeNames(TrustDomain, env, Broker), tlsx.Options{}, nil, name+"->kafka")
}

// RawClientTLS builds a plain crypto/tls client configuration that trusts
// brokerEnv's intermediate and presents the certificate of clientEnv/name
// (none when name is empty). Unlike Dialer it does not check its own
// certificate, so tests can present a revoked or foreign one and watch
// the broker refuse it.
func RawClientTLS(pki, brokerEnv, clientEnv, name string) (*tls.Config, error) {
	caPEM, err := os.ReadFile(filepath.Join(pki, brokerEnv, "ca.pem"))
	if err != nil {
		return nil, fmt.Errorf("read broker trust anchor: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("broker trust anchor: no certificate in ca.pem")
	}
	c := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool}
	if name != "" {
		dir := filepath.Join(pki, clientEnv, name)
		cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
		if err != nil {
			return nil, fmt.Errorf("load %s/%s certificate: %w", clientEnv, name, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
