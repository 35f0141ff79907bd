#!/usr/bin/env bash
# Grade a class on a Slurm cluster: a job array of N shards, then one merge job.
#
#   GRADER_SIF=course-grader.sif SUBMISSIONS=/shared/class/submissions \
#   WORK=/shared/class/grading SHARDS=16 deploy/grading/slurm/submit.sh
#
# GRADER_SIF is the grader image as an Apptainer file, built from the Docker image:
#   apptainer build course-grader.sif docker://ghcr.io/<owner>/<repo>/course-grader:<tag>
#   (or docker-daemon://course-grader:latest on a machine where it was built).
# SUBMISSIONS, WORK and GRADER_SIF must be on a file system every node sees.
# The report ends up in $WORK/report; the partial reports in $WORK/parts.
set -euo pipefail
: "${GRADER_SIF:?path of the grader image (.sif)}"
: "${SUBMISSIONS:?folder of learner folders}"
: "${WORK:?folder for the partial reports, the report and the job logs}"
SHARDS=${SHARDS:-8}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$WORK/parts" "$WORK/logs"
export GRADER_SIF SUBMISSIONS WORK
array=$(sbatch --parsable --array="1-$SHARDS" --output="$WORK/logs/grade-%A_%a.out" "$here/grade-shard.sbatch")
# afterany: the merge runs even if a shard failed, and then says which part is missing.
merge=$(sbatch --parsable --dependency="afterany:$array" --output="$WORK/logs/merge-%j.out" "$here/merge.sbatch")
echo "grading: array job $array ($SHARDS shards), merge job $merge; report in $WORK/report"
