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

# fuzz_one runs one target; it fails when go test fails, except for Go
# 1.26's coordinator race at the end of -fuzztime (go.dev/issue/75804,
# fixed in Go 1.27): the target then fails with nothing but "context
# deadline exceeded" and writes no failing input. Such a run is repeated,
# at most twice more, and reported as flaked (status 2) if the race hits
# each time; a real failure (a crasher written to testdata/fuzz/TARGET/, a
# failing seed, a panic, a build error) fails at once (status 1).
fuzz_one() {
  local dir=$1 target=$2 out corpus before after try
  out=$(mktemp)
  corpus=$dir/testdata/fuzz/$target
  for try in 1 2 3; do
    before=$(ls "$corpus" 2>/dev/null | sort || true)
    if go test -run='^$' -fuzz="^${target}\$" -fuzztime="$duration" -parallel="$parallel" "$dir" 2>&1 | tee "$out"; then
      rm -f "$out"
      return 0
    fi
    after=$(ls "$corpus" 2>/dev/null | sort || true)
    if [ "$before" != "$after" ] || ! grep -q '^    context deadline exceeded$' "$out" ||
      grep -q -e 'Failing input written to' -e 'seed corpus entry' -e 'panic:' "$out"; then
      rm -f "$out"
      return 1
    fi
    echo "fuzz: $target: \"context deadline exceeded\" without a failing input: Go's fuzzing coordinator race (go.dev/issue/75804); running it again" >&2
  done
  rm -f "$out"
  return 2
}

failed=()
flaked=()
for t in "${targets[@]}"; do
  read -r dir target <<<"$t"
  echo "fuzz: $target ($dir) for $duration"
  status=0
  fuzz_one "$dir" "$target" || status=$?
  case $status in
  0) ;;
  2) flaked+=("$target ($dir)") ;;
  *) failed+=("$target ($dir)") ;;
  esac
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}; crashers are in the packages' testdata/fuzz/" >&2
  exit 1
fi
if [ ${#flaked[@]} -gt 0 ]; then
  echo "fuzz: warning: only Go's coordinator race (go.dev/issue/75804), three times, for: ${flaked[*]}" >&2
fi
echo "fuzz: ${#targets[@]} targets ran $duration each without a failure"
