#!/usr/bin/env bash
# benchmarks/device_check.sh [--smoke] OUTDIR
#
# Proves and times keras_bigbird on one accelerator with the JAX backend, in
# at most 6 minutes on an NVIDIA H200, and on a CPU with --smoke (tiny
# sizes, about a minute; CI runs that: tests/benchmarks/device_check_test.py).
#
#   1. installs keras and its small dependencies from wheels carried in
#      benchmarks/wheels/ (only those the machine lacks; into
#      $DEVICE_SITE, default /tmp/keras_bigbird_site), and checks that
#      keras_bigbird and the oracle tests import on JAX without TensorFlow
#      (env.json);
#   2. runs the oracle tests of tests/ops and tests/layers on the device:
#      the bfloat16 ones (-k bfloat16: mixed_bfloat16 against the float64
#      oracle), then tests/ops and the float32 oracle comparisons (-k "not
#      bfloat16 and (oracle or original_pattern_test)"), with 8
#      pytest-xdist workers where xdist is installed, and with
#      JAX_DEFAULT_MATMUL_PRECISION=highest so that float32 matmuls are
#      float32 (not TF32) (oracle.json; --smoke: one of each);
#   3. the attention benchmark (benchmarks/device_attention.py:
#      BigBirdAttention, its block-sparse core, dense
#      keras.ops.dot_product_attention, cuDNN flash attention and
#      MultiHeadAttention; 1k..64k tokens, 12 heads x 64, block 64,
#      bfloat16 and float32, forward and forward+backward) -> attention.json;
#   4. the encoder benchmark (benchmarks/device_encoder.py: tokens/s and
#      peak device memory of a base-size training step) -> encoder.json;
#   5. HLO counts of BigBird's forward and forward+backward as this
#      device's XLA compiles them (fusions, gathers, dots, converts) ->
#      hlo.json (benchmarks/device_hlo.py; docs/hlo_notes.md);
#   6. a log-log plot of time and memory against length -> attention.png
#      (skipped, with a message, without matplotlib).
#
# Everything it prints is also in OUTDIR/device_check.log. Each phase has a
# time budget inside one global guard (DEVICE_CHECK_SECONDS, default 345
# in full, 120 with --smoke); the benchmarks skip what would not fit and
# record why. Re-runnable: it rewrites OUTDIR's files. Exit status: 0 when
# the package imported and every oracle run passed, 1 otherwise.
#
# The wheels (9.4 MiB; benchmarks/wheels/ is ignored by git). The GPU
# machine has Python 3.12 with jax, jaxlib and the CUDA plugin, and no
# TensorFlow, keras or internet. Make them where pip reaches PyPI, from the
# repository root:
#
#   python3 -m pip download --no-deps --only-binary=:all: \
#       --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#       --platform manylinux2014_x86_64 -d benchmarks/wheels \
#       keras==3.15.1 namex==0.1.0 optree==0.20.0 absl-py==2.5.1 \
#       h5py==3.14.0 packaging==26.2 rich==15.0.0 markdown-it-py==4.3.0 \
#       mdurl==0.1.2 pygments==2.20.0 typing-extensions==4.16.0
#
# (the pins are `python3 benchmarks/device_wheels.py pins`). Where keras
# already imports (CI, a developer's machine), no wheel is needed.
#
# On the device tool of this workplace (carry the ignored wheels):
#   run(command="bash benchmarks/device_check.sh $OUT",
#       carry=["benchmarks/wheels"], timeout_s=420)

set -uo pipefail

SMOKE=0
OUTDIR=""
for arg in "$@"; do
    case "$arg" in
        --smoke) SMOKE=1 ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed 's/^# \{0,1\}//;$d'; exit 0 ;;
        -*) echo "device_check.sh: unknown option $arg" >&2; exit 2 ;;
        *) OUTDIR="$arg" ;;
    esac
done
if [ -z "$OUTDIR" ]; then
    echo "usage: benchmarks/device_check.sh [--smoke] OUTDIR" >&2
    exit 2
fi

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"
LOG="$OUTDIR/device_check.log"
: > "$LOG"
exec > >(tee -a "$LOG") 2>&1

START=$(date +%s)
if [ "$SMOKE" = 1 ]; then
    TOTAL="${DEVICE_CHECK_SECONDS:-120}"
else
    TOTAL="${DEVICE_CHECK_SECONDS:-345}"
fi
END=$((START + TOTAL))
now() { date +%s; }
elapsed() { echo "$(( $(now) - START )) s"; }
# min(wanted, seconds left before END - reserve), at least 1
budget() {
    local wanted=$1 reserve=$2 left
    left=$(( END - reserve - $(now) ))
    [ "$left" -lt "$wanted" ] && wanted=$left
    [ "$wanted" -lt 1 ] && wanted=1
    echo "$wanted"
}

cd "$ROOT"
export KERAS_BACKEND=jax TF_CPP_MIN_LOG_LEVEL=3 PYTHONUNBUFFERED=1
SITE="${DEVICE_SITE:-/tmp/keras_bigbird_site}"
export PYTHONPATH="$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
TMPDIR_RUN="$(mktemp -d)"
trap 'rm -rf "$TMPDIR_RUN"' EXIT
STATUS=0

echo "== device_check $( [ "$SMOKE" = 1 ] && echo --smoke ) -> $OUTDIR ($TOTAL s budget, $(date -u +%FT%TZ))"
echo "python: $($PYTHON --version 2>&1) at $(command -v "$PYTHON")"

# --- 1. install and import ------------------------------------------------
mapfile -t NEEDED < <("$PYTHON" benchmarks/device_wheels.py missing benchmarks/wheels)
if [ "${#NEEDED[@]}" -gt 0 ]; then
    echo "installing ${#NEEDED[@]} carried wheels into $SITE: ${NEEDED[*]##*/}"
    mkdir -p "$SITE"
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile \
        --no-cache-dir --upgrade --target "$SITE" "${NEEDED[@]}" || STATUS=1
fi
if ! "$PYTHON" -c "import keras" 2>/dev/null; then
    echo "keras does not import and benchmarks/wheels/ does not provide it:"
    echo "make the wheels with the pip download command in this script's header."
    exit 1
fi
timeout 120 "$PYTHON" benchmarks/device_env.py "$OUTDIR/env.json" > "$TMPDIR_RUN/env.out"
if [ $? -ne 0 ]; then
    cat "$TMPDIR_RUN/env.out"
    echo "keras_bigbird did not import cleanly on JAX (see env.json)"
    exit 1
fi
"$PYTHON" - "$OUTDIR/env.json" <<'EOF'
import json, sys
env = json.load(open(sys.argv[1]))
devices = env["devices"]
print(f"jax {env['versions']['jax']} ({env['default_backend']}: "
      f"{len(devices)} x {devices[0]['kind']}), keras {env['versions']['keras']}, "
      f"TensorFlow loaded: {env['tensorflow_loaded']}")
EOF
echo "-- installed and imported ($(elapsed))"

# --- 2. oracle tests --------------------------------------------------------
# pytest stops on SIGINT with its report written: a run the guard stops
# still counts what it ran.
PYTEST_ARGS=(-q -p no:cacheprovider -o addopts="" -rfE)
run_oracle() {
    local name=$1 seconds=$2; shift 2
    echo "-- oracle tests, $name (at most $seconds s): $*"
    JAX_DEFAULT_MATMUL_PRECISION=highest XLA_PYTHON_CLIENT_PREALLOCATE=false \
        timeout -s INT -k 15 "$seconds" "$PYTHON" -m pytest "${PYTEST_ARGS[@]}" \
        --junitxml="$TMPDIR_RUN/oracle_$name.xml" "$@" > "$TMPDIR_RUN/oracle_$name.out" 2>&1
    echo $? > "$TMPDIR_RUN/oracle_$name.status"
    tail -n 40 "$TMPDIR_RUN/oracle_$name.out"
}
if [ "$SMOKE" = 1 ]; then
    # One float32 oracle comparison and one bfloat16 one, in one process.
    run_oracle smoke "$(budget $(( TOTAL * 2 / 5 )) $(( TOTAL / 2 )))" tests/layers/bigbird_attention_test.py \
        -k "(test_output_matches_oracle and b8-r4-h8-T130 and jit) or (test_mixed_precision and mixed_bfloat16 and jit)"
    REPORTS=("$TMPDIR_RUN/oracle_smoke.xml")
else
    if "$PYTHON" -c "import xdist" 2>/dev/null; then
        PYTEST_ARGS+=(-n 8)
    fi
    # The oracle comparisons (their names say "oracle"; bfloat16: the
    # mixed-precision ones, also against the oracle).
    run_oracle bfloat16 "$(budget 45 200)" tests/ops tests/layers -k bfloat16
    run_oracle float32 "$(budget 90 190)" tests/ops tests/layers \
        -k "not bfloat16 and (oracle or original_pattern_test)"
    REPORTS=("$TMPDIR_RUN/oracle_bfloat16.xml" "$TMPDIR_RUN/oracle_float32.xml")
fi
"$PYTHON" benchmarks/device_oracle.py "$OUTDIR/oracle.json" "${REPORTS[@]}" || STATUS=1
echo "-- oracle tests done ($(elapsed))"

# --- 3. attention benchmark ----------------------------------------------------
SMOKE_FLAG=()
[ "$SMOKE" = 1 ] && SMOKE_FLAG=(--smoke)
if [ "$SMOKE" = 1 ]; then ENCODER_RESERVE=$(( TOTAL * 3 / 10 )); else ENCODER_RESERVE=125; fi
ATTENTION_END=$(( END - ENCODER_RESERVE ))
echo "-- attention benchmark (until +$(( ATTENTION_END - START )) s)"
XLA_PYTHON_CLIENT_MEM_FRACTION=0.92 \
    timeout -k 10 "$(budget $(( ATTENTION_END - $(now) + 20 )) 0)" \
    "$PYTHON" benchmarks/device_attention.py "${SMOKE_FLAG[@]}" \
    --deadline "$ATTENTION_END" --out "$OUTDIR/attention.json" \
    || echo "attention benchmark stopped (status $?); attention.json has what ran"
echo "-- attention benchmark done ($(elapsed))"

# --- 4. encoder benchmark --------------------------------------------------------
if [ "$SMOKE" = 1 ]; then ENCODER_END=$(( END - TOTAL / 10 )); else ENCODER_END=$(( END - 35 )); fi
echo "-- encoder benchmark (until +$(( ENCODER_END - START )) s)"
XLA_PYTHON_CLIENT_MEM_FRACTION=0.92 \
    timeout -k 10 "$(budget $(( ENCODER_END - $(now) + 10 )) 0)" \
    "$PYTHON" benchmarks/device_encoder.py "${SMOKE_FLAG[@]}" \
    --deadline "$ENCODER_END" --out "$OUTDIR/encoder.json" \
    || echo "encoder benchmark stopped (status $?); encoder.json has what ran"
echo "-- encoder benchmark done ($(elapsed))"

# --- 5. HLO counts ------------------------------------------------------------
# What XLA's compiler for this device makes of BigBird's forward (and
# forward+backward): fusions, gathers, dots, converts (docs/hlo_notes.md).
if [ "$SMOKE" = 1 ]; then HLO_ARGS=(--smoke --length 256); else HLO_ARGS=(--length 16384 --backward); fi
echo "-- HLO counts: ${HLO_ARGS[*]}"
timeout -k 5 "$(budget 30 3)" "$PYTHON" benchmarks/device_hlo.py "${HLO_ARGS[@]}" \
    --json "$OUTDIR/hlo.json" > "$TMPDIR_RUN/hlo.out" 2>&1 \
    && echo "wrote $OUTDIR/hlo.json" || { echo "no HLO counts (status $?)"; tail -n 5 "$TMPDIR_RUN/hlo.out"; }

# --- 6. plot --------------------------------------------------------------------
if [ -f "$OUTDIR/attention.json" ]; then
    timeout 30 "$PYTHON" benchmarks/device_plot.py "$OUTDIR/attention.json" \
        "$OUTDIR/attention.png" || echo "no plot (status $?)"
fi
"$PYTHON" - "$OUTDIR" <<'EOF' || true
import json, os, sys
out = sys.argv[1]
path = os.path.join(out, "attention.json")
if os.path.exists(path):
    data = json.load(open(path))
    ran = sum("seconds" in r for r in data["results"])
    print(f"attention: {ran} of {len(data['results'])} configurations ran; "
          f"targets: {json.dumps(data.get('targets'))}")
path = os.path.join(out, "encoder.json")
if os.path.exists(path):
    for r in json.load(open(path))["results"]:
        if "tokens_per_s" in r:
            print(f"encoder {r['dtype']} {r['length']}x{r['batch']} "
                  f"ckpt={r['gradient_checkpointing']}: {r['tokens_per_s']:.0f} "
                  f"tokens/s, peak {r['peak_bytes'] / 2**30:.2f} GiB")
EOF
echo "== device_check finished in $(elapsed), status $STATUS; files in $OUTDIR:"
ls "$OUTDIR"
exit $STATUS
