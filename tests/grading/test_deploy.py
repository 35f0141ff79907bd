"""The cluster recipes of deploy/grading/ run the grader the way the README says.

No container engine or Kubernetes runs here, so those recipes' commands are executed
for real with stand-ins for the engine: a fake ``docker run`` that runs ``python -m
coursetools`` with the recipe's bind mounts mapped to folders (fixtures/grading/engines.py),
and the Kubernetes Job's container arguments with ``$(JOB_COMPLETION_INDEX)`` filled in per
pod. Each recipe grades a small class (no kernel needed) in shards and merges it; the merged
report must hold every learner. The image definition itself is checked, not built. The
Slurm recipe runs on a real Slurm, in tests/grading/test_slurm.py; here only its syntax is checked.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from fixtures.grading.classroom import LAYERS, PYTHON, ROOT, read_grades, write_learner
from fixtures.grading.engines import engine_calls as logged_calls
from fixtures.grading.engines import install_engine

DEPLOY = ROOT / "deploy" / "grading"
LEARNERS = ["ada", "bob", "cy", "dee", "eve"]

def install_fakes(tmp_path: Path) -> dict[str, str]:
    install_engine(tmp_path / "bin", "docker")
    return {"PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "FAKE_LOG": str(tmp_path / "engine.log"),
            "HOME": str(tmp_path), "LANG": "C.UTF-8"}


def make_class(submissions: Path) -> None:
    """Learners whose notebooks need no kernel (empty files): grading them takes seconds."""
    for name in LEARNERS:
        write_learner(submissions, name, {LAYERS: b""})


def engine_calls(env: dict[str, str]) -> list[list[str]]:
    return logged_calls(Path(env["FAKE_LOG"]))


def assert_merged(report: Path, shards: int, parts: list[Path]) -> None:
    rows = read_grades(report)
    assert sorted({row["learner"] for row in rows}) == LEARNERS
    exercises = {(row["notebook"], row["exercise"]) for row in rows}  # every exercise notebook of the course
    assert {(LAYERS, e) for e in ("1.1", "1.2", "1.3", "1.4")} <= exercises
    assert len(rows) == len(exercises) * len(LEARNERS)
    infos = [json.loads((part / "partial.json").read_text()) for part in parts]
    assert sorted(info["shard"]["index"] for info in infos) == list(range(1, shards + 1))
    assert {info["shard"]["count"] for info in infos} == {shards}


# --- GitHub Actions ---------------------------------------------------------------------------

def run_step(step: dict, values: dict[str, str], env: dict[str, str], workspace: Path) -> subprocess.CompletedProcess:
    def expand(text: str) -> str:
        def value(found: re.Match) -> str:
            assert found[1] in values, f"unknown expression {found[1]}"
            return values[found[1]]
        return re.sub(r"\$\{\{\s*(.+?)\s*\}\}", value, str(text))

    step_env = {name: expand(text) for name, text in step.get("env", {}).items()}
    script = workspace / "step.sh"
    script.write_text(expand(step["run"]))
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=workspace,
                          env={**env, **step_env, "GITHUB_WORKSPACE": str(workspace),
                               "GITHUB_OUTPUT": str(workspace / "output"), "GITHUB_REPOSITORY": "Teacher/Keras-Course",
                               "GITHUB_SHA": "abc123"},
                          capture_output=True, text=True, timeout=600)


def test_github_actions_matrix_grades_in_shards_and_merges(tmp_path):
    workflow = yaml.safe_load((DEPLOY / "github-actions-grade.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as true
    assert {"submissions", "shards"} <= set(triggers["workflow_dispatch"]["inputs"])
    assert workflow["permissions"] == {"contents": "read"}
    image, grade, merge = (workflow["jobs"][name] for name in ("image", "grade", "merge"))
    assert grade["needs"] == "image" and set(merge["needs"]) == {"image", "grade"}
    assert grade["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.image.outputs.shards) }}"
    assert grade["strategy"]["fail-fast"] is False
    assert "packages" not in workflow["permissions"] and grade["permissions"]["packages"] == "read"
    build = next(s for s in image["steps"] if s.get("uses", "").startswith("docker/build-push-action"))
    assert build["with"]["file"] == "deploy/grading/Dockerfile" and build["with"]["context"] == "."

    env = install_fakes(tmp_path)
    shards = "3"
    key = "a-repository-secret-of-the-instructor"  # secrets.COURSETOOLS_PARTS_KEY: the parts are signed
    values = {"inputs.shards": shards, "inputs.submissions": "submissions", "secrets.COURSETOOLS_PARTS_KEY": key}
    plan_ws = tmp_path / "image-job"
    plan_ws.mkdir()
    plan = run_step(next(s for s in image["steps"] if s.get("id") == "plan"), values, env, plan_ws)
    assert plan.returncode == 0, plan.stderr
    outputs = dict(line.split("=", 1) for line in (plan_ws / "output").read_text().splitlines())
    assert json.loads(outputs["shards"]) == [1, 2, 3]
    assert outputs["image"] == "ghcr.io/teacher/keras-course/course-grader:abc123"  # GHCR wants lower case
    values["needs.image.outputs.image"] = outputs["image"]

    downloaded = tmp_path / "merge-job" / "parts"
    grade_step = next(s for s in grade["steps"] if "run" in s)
    upload = next(s for s in grade["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    for shard in json.loads(outputs["shards"]):
        workspace = tmp_path / f"grade-job-{shard}"
        make_class(workspace / "submissions")
        result = run_step(grade_step, {**values, "matrix.shard": str(shard)}, env, workspace)
        assert result.returncode == 0, result.stdout + result.stderr
        name = upload["with"]["name"].replace("${{ matrix.shard }}", str(shard))
        shutil.copytree(workspace / upload["with"]["path"], downloaded / name)  # upload, then download
    download = next(s for s in merge["steps"] if s.get("uses", "").startswith("actions/download-artifact"))
    assert fnmatch.fnmatch("partial-1", download["with"]["pattern"]) and download["with"]["path"] == "parts"
    merged = run_step(next(s for s in merge["steps"] if "run" in s), values, env, tmp_path / "merge-job")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert_merged(tmp_path / "merge-job" / "report", 3, sorted(downloaded.iterdir()))
    assert all((part / "signature.json").is_file() for part in downloaded.iterdir())
    assert "every partial report is signed with the key given" in merged.stdout, merged.stdout + merged.stderr

    calls = engine_calls(env)
    assert len(calls) == 4
    for call in calls:
        assert call[:2] == ["docker", "run"] and "--network" in call and call[call.index("--network") + 1] == "none"
        assert "--user" in call
    assert all(any(arg.endswith(":/submissions:ro") for arg in call) for call in calls[:3])


# --- Slurm -------------------------------------------------------------------------------------

def test_slurm_scripts_parse():
    """The recipe runs on a real Slurm in tests/grading/test_slurm.py; here only bash's syntax check."""
    for script in ("submit.sh", "grade-shard.sbatch", "merge.sbatch"):
        assert subprocess.run(["bash", "-n", str(DEPLOY / "slurm" / script)]).returncode == 0, script


@pytest.mark.parametrize("grader, phrase", [
    ({"GRADER_SIF": "grader.sif", "GRADER_ENV": "."}, "not both"),
    ({}, "GRADER_SIF=path of the grader image (.sif), or GRADER_ENV=a course folder"),
    ({"GRADER_ENV": "no-course-here"}, "no-course-here/.venv/bin/python is missing"),
])
def test_slurm_submit_wants_one_grader(tmp_path, grader, phrase):
    """Refused before anything is queued: the sbatch on PATH only notes that it was called."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "sbatch").write_text(f"#!/bin/sh\ntouch {tmp_path / 'queued'}\necho 1\n")
    (tmp_path / "bin" / "sbatch").chmod(0o755)
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "SUBMISSIONS": str(tmp_path), "WORK": str(tmp_path / "work"),
           **grader}
    result = subprocess.run(["bash", str(DEPLOY / "slurm" / "submit.sh")], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 or (not grader and result.returncode == 1), result.returncode
    assert phrase in result.stderr, result.stderr
    assert not (tmp_path / "queued").exists() and not (tmp_path / "work").exists()


# --- Kubernetes --------------------------------------------------------------------------------

def load_manifest(name: str) -> dict:
    return yaml.safe_load((DEPLOY / "kubernetes" / name).read_text())


def run_container_args(args: list[str], env: dict[str, str], mounts: dict[str, Path]) -> subprocess.CompletedProcess:
    def host(arg: str) -> str:
        arg = re.sub(r"\$\((\w+)\)", lambda m: env[m[1]], arg)  # Kubernetes' $(VAR) expansion
        for target, source in mounts.items():
            if arg == target or arg.startswith(target + "/"):
                return str(source) + arg[len(target):]
        return arg
    return subprocess.run([PYTHON, "-m", "coursetools", *map(host, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **env})


def test_kubernetes_indexed_job_grades_in_shards_and_merges(tmp_path):
    job, merge = load_manifest("grade-job.yaml"), load_manifest("merge-job.yaml")
    policy, claim = load_manifest("network-policy.yaml"), load_manifest("storage.yaml")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["template"]["spec"]["restartPolicy"] == "Never"
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    args = container["args"]
    count = int(args[args.index("--shard") + 1].removeprefix("auto/"))
    assert count == spec["completions"] == spec["parallelism"]  # the pods learn N only from --shard auto/N
    assert pod["automountServiceAccountToken"] is False and pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])  # the grader's scratch space
    submissions = next(m for m in container["volumeMounts"] if m["mountPath"] == "/data/submissions")
    assert submissions["readOnly"] is True
    claims = {v["persistentVolumeClaim"]["claimName"] for p in (pod, merge["spec"]["template"]["spec"])
              for v in p["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {claim["metadata"]["name"]}
    labels = {job["spec"]["template"]["metadata"]["labels"]["app"], merge["spec"]["template"]["metadata"]["labels"]["app"]}
    assert labels == {policy["spec"]["podSelector"]["matchLabels"]["app"]}
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"} and "egress" not in policy["spec"]

    data = tmp_path / "data"
    make_class(data / "submissions")
    mounts = {"/data/submissions": data / "submissions", "/data/parts": data / "parts", "/data/report": data / "report"}
    for index in range(spec["completions"]):  # one pod per completion index
        result = run_container_args(args, {"JOB_COMPLETION_INDEX": str(index)}, mounts)
        assert result.returncode == 0, result.stderr
    merged = run_container_args(merge["spec"]["template"]["spec"]["containers"][0]["args"], {}, mounts)
    assert merged.returncode == 0, merged.stderr
    assert_merged(data / "report", count, sorted((data / "parts").iterdir()))


# --- the image ---------------------------------------------------------------------------------

def test_the_image_holds_what_grading_reads_and_no_solutions():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    patterns = [line.strip() for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]

    def sent(name: str) -> bool:  # .dockerignore: the last pattern that matches decides
        keep = True
        for pattern in patterns:
            negated = pattern.startswith("!")
            if fnmatch.fnmatch(name, pattern.lstrip("!").rstrip("/")):
                keep = negated
        return keep

    top = {path.name for path in ROOT.iterdir()} | {"solutions", "tests", ".git", ".venv", "submissions"}
    assert {name for name in top if sent(name)} <= {"coursetools", "exercises", "data", "requirements.txt",
                                                     "pyproject.toml"}
    assert all(sent(name) for name in ("coursetools", "exercises", "requirements.txt"))
    assert "pip install -r requirements.txt" in dockerfile and "COPY . /course/" in dockerfile
    assert re.search(r"^USER 1000$", dockerfile, re.M) and "PYTHONPATH=/course" in dockerfile
    assert 'ENTRYPOINT ["tini", "--", "python", "-m", "coursetools"]' in dockerfile
    base = re.search(r"^FROM python:(\d+\.\d+)", dockerfile, re.M)
    assert base and base[1] == "3.11"  # the Python of environment.yml
    assert "python=3.11" in (ROOT / "environment.yml").read_text()
