#!/usr/bin/env bash
# ONE call on the GPU machine (CPU float32 only; run from the repo root): builds the transformers fixtures, runs
# our parity test on them, and checks that r1-written directories load in transformers and round-trip bit-exactly.
#   bench/hf_compat/run_gpu.sh [dist folder from pack_dist.sh]     results under $OUT:
#   fixtures.tgz (tests/fixtures/hf: unpack with `tar xzf fixtures.tgz -C tests/fixtures`), make_fixtures.log,
#   parity.log (test_hfcompat), roundtrip.log + roundtrip.json (check_roundtrip.py).
# Without a dist folder only the fixtures are made. Exit status: 0 when every step passed.
set -uo pipefail
out=${OUT:-/tmp/hf_out}
dist=${1:-}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
status=0
python3 bench/hf_compat/make_fixtures.py --out tests/fixtures/hf 2>&1 | tee "$out/make_fixtures.log"
[[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
tar czf "$out/fixtures.tgz" -C tests/fixtures hf
if [[ -n $dist && -x $dist/r1 ]]; then
  export LD_LIBRARY_PATH="$dist/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  R1_HF_FIXTURES="$PWD/tests/fixtures/hf" "$dist/test_hfcompat" --gtest_brief=1 2>&1 | tee "$out/parity.log"
  [[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
  python3 bench/hf_compat/check_roundtrip.py --r1 "$dist/r1" --fixtures tests/fixtures/hf --work /tmp/hf_roundtrip \
    --report "$out/roundtrip.json" 2>&1 | tee "$out/roundtrip.log"
  [[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
else
  echo "run_gpu.sh: no r1 dist folder given: parity and round-trip checks skipped" >&2
fi
echo "run_gpu.sh: exit $status"
exit $status
