#!/usr/bin/env bash
# Run every native Go fuzz target of the module (func FuzzX(f *testing.F) in
# a _test.go file) for DURATION each, one after another.
#   .ci/fuzz.sh [DURATION]   default 20s; "task fuzz FUZZTIME=10m" calls it
#   .ci/fuzz.sh --list       print "PACKAGE-DIR TARGET" lines
# Each target runs with -parallel=$FUZZPARALLEL (default 1: one worker, for
# shared machines). A crasher is written to PACKAGE/testdata/fuzz/TARGET/ by
# go test: fix the bug and commit the file, which every later go test then
# runs as a regression seed. Exits non-zero when any target failed.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-20s}
parallel=${FUZZPARALLEL:-1}

list() {
  local mod pkg dir f
  mod=$(go list -m)
  for pkg in $(go list ./...); do
    dir=.${pkg#"$mod"}
    for f in "$dir"/*_test.go; do
      [ -e "$f" ] || continue
      sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(f \*testing\.F).*/\1/p' "$f" | sed "s|^|$dir |"
    done
  done
}

if [ "$duration" = "--list" ]; then
  list
  exit 0
fi
mapfile -t targets < <(list)
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no fuzz targets found" >&2; exit 1; }
failed=()
for t in "${targets[@]}"; do
  read -r dir target <<<"$t"
  echo "fuzz: $target ($dir) for $duration"
  if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$duration" -parallel="$parallel" "$dir"; then
    failed+=("$target ($dir)")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}; crashers are in the packages' testdata/fuzz/" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets ran $duration each without a failure"
