#!/usr/bin/env bash
# Writes it/compose.hosts (compose's service names on distinct loopback
# addresses) into /etc/hosts as one marked block, replacing the block of an
# earlier run, so that compose's services run here as processes with
# compose's own configuration (it/compose_test.go). Idempotent; needs root.
# Written in place, not renamed over: /etc/hosts may be a bind mount.
#
#   it/compose-hosts.sh           add or refresh the block
#   it/compose-hosts.sh remove    remove it
set -euo pipefail

hosts=${LOGSYS_HOSTS_FILE:-/etc/hosts}
list=$(cd "$(dirname "$0")" && pwd)/compose.hosts
# The block is found by the start of its marker lines.
begin="# BEGIN logsys compose names"
end="# END logsys compose names"

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
awk -v b="$begin" -v e="$end" 'index($0, b) == 1 { skip = 1; next } index($0, e) == 1 { skip = 0; next } !skip' "$hosts" >"$tmp"
if [ "${1:-}" != remove ]; then
  { echo "$begin (it/compose.hosts, written by it/compose-hosts.sh)"; sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$list"; echo "$end"; } >>"$tmp"
fi
if ! cmp -s "$tmp" "$hosts"; then
  cat "$tmp" >"$hosts"
  echo "compose-hosts.sh: $hosts updated" >&2
fi
