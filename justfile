# Thin aliases of the commands the README shows; `just` is optional.

# Run the whole pipeline locally (embedded broker and store, PKI on first start).
demo:
    go run . all

# Format check, vet, and every test with the race detector.
test:
    ./test.sh

# Integration tests against a real Apache Kafka and PostgreSQL.
it:
    ./it/run.sh

# Measure what TLS costs.
bench:
    go run . bench

# The container deployment (needs a Docker engine).
up:
    docker compose up --build

# logsys against the OpenTelemetry Collector and a bare handler on a real Kafka (builds into .cache/, minutes).
peer *ARGS:
    bench/peer/run.sh {{ARGS}}
