#!/usr/bin/env bash
# tests/fuzz/run.sh <build dir> <seconds per harness>: each libFuzzer harness
# from its committed seeds (tests/fuzz/corpus/<name>) and the corpus it grew
# before (<build>/corpus/<name>), with its dictionary when there is one.
# Findings (crash-, leak-, timeout-, oom- files) go to <build>/findings.
set -uo pipefail
build=$1
seconds=$2
src=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build/findings"
# The hf_folder harness rewrites files in TMPDIR for every input: in memory
# that costs far less than on a disk file system.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
failed=()
for bin in "$build"/tests/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=${bin##*/fuzz_}
  mkdir -p "$build/corpus/$name"
  dict=()
  [ -f "$src/dict/$name.dict" ] && dict=(-dict="$src/dict/$name.dict")
  echo "== fuzz $name: ${seconds}s"
  # -timeout: one input taking longer is a hang; -rss_limit_mb: a blow-up.
  if ! ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 "${dict[@]}" \
      -artifact_prefix="$build/findings/$name-" "$build/corpus/$name" "$src/corpus/$name" 2>"$build/fuzz-$name.log"; then
    failed+=("$name")
    tail -40 "$build/fuzz-$name.log"
  fi
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+.*DONE" "$build/fuzz-$name.log" | tr '\n' ' '
  echo
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "make fuzz: findings in ${failed[*]} (see $build/findings and $build/fuzz-<name>.log)"
  exit 1
fi
echo "make fuzz: no findings"
