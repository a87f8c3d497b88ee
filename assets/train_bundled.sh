#!/usr/bin/env bash
# Reproduces assets/vdt-cpu-tiny: the all-task cpu-tiny VDT, trained for ~50 minutes on a 2-core CPU.
# Usage: bash assets/train_bundled.sh [run folder]   (interrupt freely: running it again resumes)
set -euo pipefail
RUN=${1:-runs/vdt-cpu-tiny}
# One torch thread: on a shared 2-core machine two OpenMP threads stalled each other (up to 5 s a step).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# --resume only once a checkpoint exists (also .tmp/.old, left by a kill during a save): it is an error otherwise
RESUME=$(compgen -G "$RUN/checkpoint*" > /dev/null && echo --resume || true)
minivdt train --preset cpu-tiny --out "$RUN" --steps 1628 --checkpoint-every 100 $RESUME
minivdt export "$RUN" assets/vdt-cpu-tiny
