#!/usr/bin/env bash
# Checks the Prometheus configuration and alert rules and runs the alert
# unit tests (deploy/prometheus/alerts_test.yml) with promtool.
#
# promtool is taken from $PROMTOOL, then PATH, then a cache; otherwise it is
# extracted from Debian's `prometheus` package without installing the
# package (so no Prometheus server is set up or started), and as a last
# resort built with `go install`.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${LOGSYS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/logsys/tools}
promtool_go_version=v0.316.0

find_promtool() {
	if [[ -n ${PROMTOOL:-} && -x $PROMTOOL ]]; then echo "$PROMTOOL"; return; fi
	if command -v promtool >/dev/null 2>&1; then command -v promtool; return; fi
	if [[ -x $cache/promtool ]]; then echo "$cache/promtool"; return; fi
	return 1
}

fetch_from_debian() {
	command -v apt-get >/dev/null 2>&1 || return 1
	local tmp ok=0
	tmp=$(mktemp -d)
	if ! apt-cache show prometheus >/dev/null 2>&1; then
		apt-get update -qq >&2 || true
	fi
	# apt-get download runs unsandboxed as root here and says so on stderr.
	if (cd "$tmp" && apt-get download -qq prometheus 2>/dev/null) &&
		dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$tmp" ./usr/bin/promtool &&
		"$tmp/usr/bin/promtool" --version >/dev/null 2>&1; then
		mkdir -p "$cache"
		mv "$tmp/usr/bin/promtool" "$cache/promtool.tmp" && mv "$cache/promtool.tmp" "$cache/promtool" && ok=1
	fi
	rm -rf "$tmp"
	[[ $ok == 1 ]]
}

fetch_with_go() {
	command -v go >/dev/null 2>&1 || return 1
	mkdir -p "$cache"
	GOBIN=$cache GOFLAGS=-mod=mod go install "github.com/prometheus/prometheus/cmd/promtool@$promtool_go_version" >&2
}

promtool=$(find_promtool) || {
	echo "promtool: not found; fetching it into $cache" >&2
	fetch_from_debian || fetch_with_go || { echo "promtool: could not get promtool" >&2; exit 1; }
	promtool=$(find_promtool)
}
echo "promtool: $("$promtool" --version 2>&1 | head -n1)"

cd "$root/deploy/prometheus"
"$promtool" check config --syntax-only prometheus.yml
"$promtool" check rules alerts.yml
"$promtool" test rules alerts_test.yml
echo "promtool: alert rule tests passed"
