"""The cluster recipes of deploy/grading/ run the grader the way the README says.

No container engine, Slurm or Kubernetes runs here, so each recipe's commands are
executed for real with stand-ins for the engine: a fake ``docker run`` and ``apptainer
exec`` that run ``python -m coursetools`` with the recipe's bind mounts mapped to
folders, a fake ``sbatch`` that runs an array's tasks one after the other, and the
Kubernetes Job's container arguments with ``$(JOB_COMPLETION_INDEX)`` filled in per pod.
Each recipe grades a small class (no kernel needed) in shards and merges it; the merged
report must hold every learner. The image definition itself is checked, not built.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from fixtures.grading.classroom import LAYERS, PYTHON, ROOT, read_grades, write_learner

DEPLOY = ROOT / "deploy" / "grading"
LEARNERS = ["ada", "bob", "cy", "dee", "eve"]

# A stand-in for a container engine: runs `python -m coursetools ARGS` of `docker run ... IMAGE ARGS`
# or `apptainer exec ... IMAGE python -m coursetools ARGS`, with paths inside the container mapped
# to the folders bound there; every invocation is logged as JSON for the assertions.
FAKE_ENGINE = textwrap.dedent('''\
    #!{python}
    import json, os, subprocess, sys
    engine, args = os.path.basename(sys.argv[0]), sys.argv[1:]
    with open(os.environ["FAKE_LOG"], "a") as log:
        log.write(json.dumps([engine, *args]) + "\\n")
    verb, args = args[0], args[1:]
    assert (engine, verb) in (("docker", "run"), ("apptainer", "exec")), (engine, verb)
    binds, env, i = [], {{}}, 0
    flags = {{"--rm", "--containall", "--cleanenv", "--net"}}
    valued = {{"--network", "--user", "-e", "-v", "--workdir", "--pwd", "--bind"}}
    while args[i].startswith("-"):
        if args[i] in flags:
            i += 1
            continue
        assert args[i] in valued, "unknown option " + args[i]
        option, value, i = args[i], args[i + 1], i + 2
        if option in ("-v", "--bind"):
            source, target, *mode = value.split(":")
            binds.append((target, source))
        elif option == "-e":
            env[value] = os.environ[value]
    image, command = args[i], args[i + 1:]
    if engine == "apptainer":
        assert command[:3] == ["python", "-m", "coursetools"], command
        command = command[3:]
        env.update({{k[len("APPTAINERENV_"):]: v for k, v in os.environ.items() if k.startswith("APPTAINERENV_")}})
    def host(arg):
        for target, source in sorted(binds, key=lambda b: -len(b[0])):
            if arg == target or arg.startswith(target + "/"):
                return source + arg[len(target):]
        assert not arg.startswith("/"), "a path outside every bind mount: " + arg
        return arg
    env.update({{k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}})
    sys.exit(subprocess.call([{python!r}, "-m", "coursetools", *map(host, command)], cwd={root!r}, env=env))
''')

# A stand-in for sbatch: runs the script at once, an array's tasks one after the other.
FAKE_SBATCH = textwrap.dedent('''\
    #!{python}
    import itertools, os, re, subprocess, sys
    options = dict(a[2:].split("=", 1) for a in sys.argv[1:-1] if "=" in a)
    script = sys.argv[-1]
    counter = os.path.join(os.environ["FAKE_STATE"], "jobs")
    job = len(open(counter).read()) if os.path.exists(counter) else 0
    open(counter, "a").write(".")
    job += 100
    first, last = map(int, options["array"].split("-")) if "array" in options else (None, None)
    tasks = range(first, last + 1) if first is not None else [None]
    for task in tasks:
        env = dict(os.environ, SLURM_JOB_ID=str(job), SLURM_CPUS_PER_TASK="2")
        if task is not None:
            env.update(SLURM_ARRAY_TASK_ID=str(task), SLURM_ARRAY_TASK_MIN=str(first),
                       SLURM_ARRAY_TASK_MAX=str(last), SLURM_ARRAY_TASK_STEP="1",
                       SLURM_ARRAY_TASK_COUNT=str(last - first + 1))
        out = options["output"].replace("%A", str(job)).replace("%a", str(task)).replace("%j", str(job))
        with open(out, "w") as log:
            subprocess.call(["bash", script], env=env, stdout=log, stderr=subprocess.STDOUT)
    print(job)
''')


def install_fakes(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("docker", FAKE_ENGINE), ("apptainer", FAKE_ENGINE), ("sbatch", FAKE_SBATCH)):
        path = bin_dir / name
        path.write_text(text.format(python=PYTHON, root=str(ROOT)))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    (tmp_path / "state").mkdir()
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_LOG": str(tmp_path / "engine.log"),
            "FAKE_STATE": str(tmp_path / "state"), "HOME": str(tmp_path), "LANG": "C.UTF-8"}


def make_class(submissions: Path) -> None:
    """Learners whose notebooks need no kernel (empty files): grading them takes seconds."""
    for name in LEARNERS:
        write_learner(submissions, name, {LAYERS: b""})


def engine_calls(env: dict[str, str]) -> list[list[str]]:
    return [json.loads(line) for line in Path(env["FAKE_LOG"]).read_text().splitlines()]


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
    values = {"inputs.shards": shards, "inputs.submissions": "submissions"}
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

    calls = engine_calls(env)
    assert len(calls) == 4
    for call in calls:
        assert call[:2] == ["docker", "run"] and "--network" in call and call[call.index("--network") + 1] == "none"
        assert "--user" in call
    assert all(any(arg.endswith(":/submissions:ro") for arg in call) for call in calls[:3])


# --- Slurm -------------------------------------------------------------------------------------

def test_slurm_array_grades_in_shards_and_merges(tmp_path):
    for script in ("submit.sh", "grade-shard.sbatch", "merge.sbatch"):
        assert subprocess.run(["bash", "-n", str(DEPLOY / "slurm" / script)]).returncode == 0, script
    env = install_fakes(tmp_path)
    make_class(tmp_path / "class")
    work = tmp_path / "work"
    result = subprocess.run(["bash", str(DEPLOY / "slurm" / "submit.sh")], capture_output=True, text=True, timeout=600,
                            env={**env, "GRADER_SIF": str(tmp_path / "grader.sif"), "SUBMISSIONS": str(tmp_path / "class"),
                                 "WORK": str(work), "SHARDS": "3"})
    logs = "\n".join(p.read_text() for p in sorted((work / "logs").glob("*"))) if (work / "logs").exists() else ""
    assert result.returncode == 0, result.stderr + logs
    assert "merge job" in result.stdout
    assert_merged(work / "report", 3, sorted((work / "parts").iterdir()))
    calls = engine_calls(env)
    assert len(calls) == 4 and all(call[:2] == ["apptainer", "exec"] and "--containall" in call for call in calls)
    assert all("--shard" in call and call[call.index("--shard") + 1] == "auto" for call in calls[:3])
    assert all(f"{tmp_path / 'class'}:/submissions:ro" in call for call in calls[:3])


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
