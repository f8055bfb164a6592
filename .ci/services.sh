# Sourced by .ci/run: creates a PKI for the services and starts them,
# exporting what the integration tests read. Each service's script prints
# its exports on stdout and progress on stderr.
ci_pki="$PWD/.cache/ci-pki"
rm -rf "$ci_pki"
logsys pki init --pki-dir "$ci_pki" --envs dev,staging >/dev/null
export LOGSYS_TEST_PKI="$ci_pki"

stamp "postgres"
pgenv=$(.ci/postgres.sh start "$ci_pki")
eval "$pgenv"
trap '.ci/postgres.sh stop >/dev/null 2>&1 || true' EXIT

stamp "promtool"
bash .ci/promtool.sh

if [ -x it/kafka.sh ]; then
  stamp "kafka"
  # Three KRaft nodes (replication factor 3, min.insync.replicas 2), so the
  # broker-failover tests run too: the it package then takes about 350 s
  # instead of 140 s, and the whole CI run about 10 minutes.
  kenv=$(LOGSYS_KAFKA_NODES="${LOGSYS_KAFKA_NODES:-3}" it/kafka.sh start "$ci_pki")
  eval "$kenv"
  trap '.ci/postgres.sh stop >/dev/null 2>&1 || true; it/kafka.sh stop >/dev/null 2>&1 || true' EXIT
fi
