#!/usr/bin/env bash
# Prometheus's tools from Debian's `prometheus` package.
#
#   .ci/promtool.sh          check the Prometheus configuration and alert
#                            rules and run the alert unit tests
#                            (deploy/prometheus/alerts_test.yml) with promtool
#   .ci/promtool.sh server   print `export LOGSYS_TEST_PROMETHEUS=PATH`: the
#                            Prometheus server the compose test runs
#
# Each binary is taken from $PROMTOOL / $PROMETHEUS, then PATH, then a
# cache; otherwise both are extracted from Debian's `prometheus` package
# without installing it: installing would also set up and start a system
# Prometheus (its postinst runs invoke-rc.d) on the port compose's takes.
# promtool, as a last resort, is built with `go install`.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${LOGSYS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/logsys/tools}
promtool_go_version=v0.316.0

# find NAME OVERRIDE: the binary's path, or failure.
find_tool() {
	if [[ -n ${2:-} && -x $2 ]]; then echo "$2"; return; fi
	if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
	if [[ -x $cache/$1 ]]; then echo "$cache/$1"; return; fi
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
		dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$tmp" ./usr/bin/promtool ./usr/bin/prometheus &&
		"$tmp/usr/bin/promtool" --version >/dev/null 2>&1 && "$tmp/usr/bin/prometheus" --version >/dev/null 2>&1; then
		mkdir -p "$cache"
		for b in promtool prometheus; do
			mv "$tmp/usr/bin/$b" "$cache/$b.tmp" && mv "$cache/$b.tmp" "$cache/$b"
		done
		ok=1
	fi
	rm -rf "$tmp"
	[[ $ok == 1 ]]
}

fetch_with_go() {
	command -v go >/dev/null 2>&1 || return 1
	mkdir -p "$cache"
	GOBIN=$cache GOFLAGS=-mod=mod go install "github.com/prometheus/prometheus/cmd/promtool@$promtool_go_version" >&2
}

if [[ ${1:-} == server ]]; then
	server=$(find_tool prometheus "${PROMETHEUS:-}") || {
		echo "prometheus: not found; fetching it into $cache" >&2
		fetch_from_debian || { echo "prometheus: could not get Debian's prometheus package" >&2; exit 1; }
		server=$(find_tool prometheus)
	}
	echo "prometheus: $("$server" --version 2>&1 | head -n1)" >&2
	echo "export LOGSYS_TEST_PROMETHEUS='$server'"
	exit 0
fi

promtool=$(find_tool promtool "${PROMTOOL:-}") || {
	echo "promtool: not found; fetching it into $cache" >&2
	fetch_from_debian || fetch_with_go || { echo "promtool: could not get promtool" >&2; exit 1; }
	promtool=$(find_tool promtool)
}
echo "promtool: $("$promtool" --version 2>&1 | head -n1)"

cd "$root/deploy/prometheus"
"$promtool" check config --syntax-only prometheus.yml
"$promtool" check rules alerts.yml
"$promtool" test rules alerts_test.yml
echo "promtool: alert rule tests passed"
