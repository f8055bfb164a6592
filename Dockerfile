# syntax=docker/dockerfile:1
# logsys: one static binary in a distroless image that runs as a non-root user.
#   docker build -t logsys .
#   docker run --rm logsys --help

FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags "-s -w -X logsys/roles.Version=${VERSION}" -o /out/logsys . \
 && mkdir -p /out/pki /out/data \
 && chmod 0700 /out/pki /out/data

# distroless/static: no shell, no package manager, CA roots and /etc/passwd
# with the nonroot user (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/logsys /usr/local/bin/logsys
# Empty, owned mount points: a named volume mounted here for the first time
# takes this owner and mode, so the PKI and data volumes are 65532:65532 0700.
COPY --from=build --chown=65532:65532 /out/pki /pki
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
EXPOSE 8080 8081 8082
ENTRYPOINT ["/usr/local/bin/logsys"]
CMD ["--help"]
