# Sourced by .ci/run: creates a PKI for the services and starts them,
# exporting what the integration tests read. Each service's script prints
# its exports on stdout and progress on stderr.
ci_pki="$PWD/.cache/ci-pki"
rm -rf "$ci_pki"
logsys pki init --dir "$ci_pki" --envs dev,staging >/dev/null
export LOGSYS_TEST_PKI="$ci_pki"

stamp "postgres"
pgenv=$(.ci/postgres.sh start "$ci_pki")
eval "$pgenv"
trap '.ci/postgres.sh stop >/dev/null 2>&1 || true' EXIT

stamp "promtool"
bash .ci/promtool.sh

if [ -x it/kafka.sh ]; then
  stamp "kafka"
  # One node: with three the it package takes about 350 s instead of 143 s
  # (each restart test waits for every replica), over CI's budget. The failover
  # tests run with `LOGSYS_KAFKA_NODES=3 it/run.sh ./it/...` (README).
  kenv=$(LOGSYS_KAFKA_NODES="${LOGSYS_KAFKA_NODES:-1}" it/kafka.sh start "$ci_pki")
  eval "$kenv"
  trap '.ci/postgres.sh stop >/dev/null 2>&1 || true; it/kafka.sh stop >/dev/null 2>&1 || true' EXIT
fi
