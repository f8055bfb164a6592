#!/usr/bin/env bash
# The test command the README names: format, vet, and every test with the
# race detector, one line per package as it finishes. Integration tests run
# when their services are configured (see .ci/run) and are required when CI
# is set.
#
#   ./test.sh                      everything
#   ./test.sh -run TestX ./roles/  go test's flags and packages, as with go test
#
# How: the race test binaries are built in one go command (in parallel),
# then run from their package directories, LOGSYS_TEST_JOBS at a time
# (default: one more than the CPUs). When PostgreSQL or Kafka is configured,
# the packages that share them and restart them (EXCLUSIVE) run one after
# another, next to the others. The logsys binary is built once for the
# packages that run it (LOGSYS_TEST_BIN).
set -euo pipefail
cd "$(dirname "$0")"

EXCLUSIVE=" logsys/it logsys/store logsys/roles "
if [ -z "${LOGSYS_TEST_PG_DSN:-}${LOGSYS_TEST_PG_RESTART:-}${LOGSYS_TEST_KAFKA_BROKERS:-}" ]; then
  EXCLUSIVE="" # no shared services: nothing to take turns on
fi
cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
jobs=${LOGSYS_TEST_JOBS:-$((cpus + 1))} # tests wait on sockets and timers: one more than the CPUs
t0=$EPOCHREALTIME
since() { LC_ALL=C awk -v now="$EPOCHREALTIME" -v t="$1" 'BEGIN { printf "%5.1fs", now - t }'; }
note() { printf '== %s %s\n' "$(since "$t0")" "$*"; }

# Packages and go test flags: flags become the test binaries' -test.* flags.
pkgs=() flags=()
for a in "$@"; do
  case $a in
    ./*|logsys|logsys/*) pkgs+=("$a") ;;
    -run|-run=*|-skip|-skip=*|-v|-v=*|-short|-short=*|-count|-count=*|-timeout|-timeout=*|-failfast|-failfast=*|-shuffle|-shuffle=*|-cpu|-cpu=*|-parallel|-parallel=*|-bench|-bench=*|-benchtime|-benchtime=*|-list|-list=*)
      flags+=("-test.${a#-}") ;;
    *) flags+=("$a") ;;
  esac
done
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:" $unformatted >&2
  exit 1
fi
note "gofmt ok; go vet"
go vet ./...

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
note "building the race test binaries and the logsys binary"
go build -o "$work/logsys" . &
build=$!
export LOGSYS_TEST_BIN="$work/logsys"
mkdir -p "$work/bin" "$work/log"
# One binary per package with tests, named after its import path; the
# slowest packages first, so that they do not end the run alone.
slow=(logsys/roles logsys/pki logsys/store logsys/bench logsys logsys/enroll)
rank() { local i; for i in "${!slow[@]}"; do [ "${slow[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo 99; }
list=$(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}' "${pkgs[@]}" |
  while read -r pkg dir; do [ -z "$pkg" ] || echo "$(rank "$pkg") $pkg $dir"; done |
  sort -s -n -k1,1 | cut -d' ' -f2-)
go test -race -c -o "$work/bin/" "${pkgs[@]}" >/dev/null
wait $build
note "running $(wc -l <<<"$list") packages, $jobs at a time${EXCLUSIVE:+ (and${EXCLUSIVE% } in turn)}"

# run PKG DIR: runs one package's binary and prints its line.
run() {
  local pkg=$1 dir=$2 name=${1##*/} start=$EPOCHREALTIME rc=0
  local log="$work/log/${pkg//\//_}"
  [ "$pkg" = logsys ] && name=logsys
  (cd "$dir" && "$work/bin/$name.test" -test.timeout=25m "${flags[@]}") >"$log" 2>&1 || rc=$?
  if [ $rc -eq 0 ]; then
    printf 'ok   %-28s %s\n' "$pkg" "$(since "$start")"
  else
    printf 'FAIL %-28s %s (exit %d)\n' "$pkg" "$(since "$start")" $rc
    echo "$pkg" >>"$work/failed"
  fi
}

exclusive=() shared=()
while read -r pkg dir; do
  [ -n "$pkg" ] || continue
  if [[ $EXCLUSIVE == *" $pkg "* ]]; then exclusive+=("$pkg $dir"); else shared+=("$pkg $dir"); fi
done <<<"$list"

# Duplicate binary names would overwrite each other: refuse them.
dups=$(for l in "${exclusive[@]}" "${shared[@]}"; do p=${l%% *}; echo "${p##*/}"; done | sort | uniq -d)
if [ -n "$dups" ]; then
  echo "test.sh: packages with the same last path element: $dups" >&2
  exit 1
fi

limit=$jobs
if [ ${#exclusive[@]} -gt 0 ]; then
  ( for l in "${exclusive[@]}"; do run $l; done ) &
  limit=$((jobs + 1)) # the lane of exclusive packages is one more job
fi
for l in "${shared[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$limit" ]; do wait -n || true; done
  run $l &
done
wait || true

if [[ " ${flags[*]} " == *" -test.v"* ]]; then
  for f in "$work"/log/*; do cat "$f"; done
fi
if [ -s "$work/failed" ]; then
  while read -r pkg; do
    echo
    echo "--- output of $pkg"
    cat "$work/log/${pkg//\//_}"
  done <"$work/failed"
  note "FAIL: $(wc -l <"$work/failed") of $(wc -l <<<"$list") packages"
  exit 1
fi
note "ok: $(wc -l <<<"$list") packages"
