#!/usr/bin/env bash
# Grade a class on a Slurm cluster: a job array of N shards, then one merge job.
#
#   GRADER_SIF=course-grader.sif SUBMISSIONS=/shared/class/submissions \
#   WORK=/shared/class/grading SHARDS=16 deploy/grading/slurm/submit.sh
#
# The grader runs in one of two ways; set exactly one of:
#   GRADER_SIF  the grader image as an Apptainer file, built from the Docker image:
#                 apptainer build course-grader.sif docker://ghcr.io/<owner>/<repo>/course-grader:<tag>
#                 (or docker-daemon://course-grader:latest on a machine where it was built).
#   GRADER_ENV  a course folder set up with `python3 course.py setup` (its .venv), for clusters
#               without Apptainer: the jobs run "$GRADER_ENV/.venv/bin/python -m coursetools" there,
#               and the grader sandboxes each learner's kernel with bubblewrap (install it on the
#               nodes; without it grading.log says NO SANDBOX).
# SUBMISSIONS, WORK and GRADER_SIF or GRADER_ENV must be on a file system every node sees.
# The report ends up in $WORK/report; the partial reports in $WORK/parts, the jobs' logs in
# $WORK/logs. sbatch's own variables (SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_TIMELIMIT,
# SBATCH_MEM_PER_NODE, ...) apply to both jobs and win over the scripts' #SBATCH lines.
set -euo pipefail
if [[ -n "${GRADER_SIF:-}" && -n "${GRADER_ENV:-}" ]]; then
  echo "submit.sh: set GRADER_SIF (an Apptainer image) or GRADER_ENV (a course folder), not both" >&2
  exit 2
fi
if [[ -z "${GRADER_SIF:-}" ]]; then
  : "${GRADER_ENV:?GRADER_SIF=path of the grader image (.sif), or GRADER_ENV=a course folder set up with course.py setup}"
  if [[ ! -x "$GRADER_ENV/.venv/bin/python" ]]; then
    echo "submit.sh: $GRADER_ENV/.venv/bin/python is missing: run \`python3 course.py setup\` in $GRADER_ENV" >&2
    exit 2
  fi
  GRADER_ENV=$(cd "$GRADER_ENV" && pwd)
fi
: "${SUBMISSIONS:?folder of learner folders}"
: "${WORK:?folder for the partial reports, the report and the job logs}"
SHARDS=${SHARDS:-8}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$WORK/parts" "$WORK/logs"
# Absolute paths: the jobs may start elsewhere (GRADER_ENV's jobs run in that folder).
SUBMISSIONS=$(cd "$SUBMISSIONS" && pwd)
WORK=$(cd "$WORK" && pwd)
export GRADER_SIF GRADER_ENV SUBMISSIONS WORK
array=$(sbatch --parsable --array="1-$SHARDS" --output="$WORK/logs/grade-%A_%a.out" "$here/grade-shard.sbatch")
# afterany: the merge runs even if a shard failed, and then says which part is missing.
merge=$(sbatch --parsable --dependency="afterany:$array" --output="$WORK/logs/merge-%j.out" "$here/merge.sbatch")
echo "grading: array job $array ($SHARDS shards), merge job $merge; report in $WORK/report"
