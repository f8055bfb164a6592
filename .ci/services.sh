# Sourced by .ci/run: creates a PKI for the services and starts them,
# exporting what the integration tests read. Each service's script prints
# its exports on stdout and progress on stderr.

# The CI PKI is made by compose's own pki command (compose.yaml, service
# pki: `pki init --pki-dir /pki --hosts ${LOGSYS_PKI_HOSTS:-localhost}`),
# so that Kafka and PostgreSQL present the certificates compose's would
# (names kafka, postgres) and the compose test (it/compose_test.go) runs
# compose's services against them; its pki job must find nothing to change.
ci_pki="$PWD/.cache/ci-pki"
rm -rf "$ci_pki"
logsys pki init --pki-dir "$ci_pki" --hosts "${LOGSYS_PKI_HOSTS:-localhost}" >/dev/null
export LOGSYS_TEST_PKI="$ci_pki"

# Compose's service names on distinct loopback addresses in /etc/hosts
# (it/compose.hosts), only as root or with CI set.
if [ "$(id -u)" -eq 0 ] || [ -n "${CI:-}" ]; then
  stamp "hosts"
  it/compose-hosts.sh || echo "services.sh: could not write /etc/hosts: the compose test will fail under CI" >&2
fi

stamp "postgres"
pgenv=$(.ci/postgres.sh start "$ci_pki")
eval "$pgenv"
trap '.ci/postgres.sh stop >/dev/null 2>&1 || true' EXIT

stamp "promtool, prometheus"
bash .ci/promtool.sh
eval "$(bash .ci/promtool.sh server)"

if [ -x it/kafka.sh ]; then
  stamp "kafka"
  # Three KRaft nodes (replication factor 3, min.insync.replicas 2), so the
  # broker-failover tests run too: the it package then takes about 350 s
  # instead of 140 s, and the whole CI run about 10 minutes.
  kenv=$(LOGSYS_KAFKA_NODES="${LOGSYS_KAFKA_NODES:-3}" it/kafka.sh start "$ci_pki")
  eval "$kenv"
  trap '.ci/postgres.sh stop >/dev/null 2>&1 || true; it/kafka.sh stop >/dev/null 2>&1 || true' EXIT
fi
