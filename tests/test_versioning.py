"""Code and data versioning: an edit reruns exactly the jobs whose code it touches (Snakemake
and `dvc repro` agree), dvc.yaml cannot drift from the rules, a folder dataset lives under
DVC, a failing rule's log holds its traceback, and the conda env file is self-contained."""
import copy
import re
import shutil
import subprocess
import sys
import tomllib

import pytest
import yaml

from conftest import REPO, dvc_project, sh, snakemake, tiny, write_audio, write_workflow
from crossrep import provenance, synthetic
from crossrep.jobstats import job_stats

SCRIPTS = REPO / "workflow" / "scripts"


# -- which code each rule runs -------------------------------------------------------------------

def _names(script, package_dir=provenance.PACKAGE_DIR):
    return {p.relative_to(package_dir).as_posix() for p in provenance.imported_files(script, package_dir)
            if p.is_relative_to(package_dir)}


def test_each_rule_hashes_the_modules_its_step_imports():
    attack = _names(SCRIPTS / "adversarial.py")
    assert {"attacks.py", "models.py", "shards.py", "steps/adversarial.py", "steps/__init__.py"} <= attack
    assert not attack & {"train.py", "features.py", "synthetic.py", "reports.py"}
    training = _names(SCRIPTS / "train.py")
    assert {"train.py", "models.py", "shard_rows.py"} <= training and "attacks.py" not in training
    assert "synthetic.py" in _names(SCRIPTS / "synthesize.py")
    # the transfer step runs the predict step: a module imported through another counts
    assert {"steps/predict.py", "train.py", "metrics.py"} <= _names(SCRIPTS / "transfer.py")
    # the report step imports matplotlib's module lazily, inside a function: still found
    assert "reports.py" in _names(SCRIPTS / "report.py")


def test_code_version_changes_with_a_module_and_only_for_its_importers(tmp_path):
    package = tmp_path / "crossrep"
    shutil.copytree(provenance.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    versions = {s: provenance.code_version(SCRIPTS / f"{s}.py", package) for s in ("adversarial", "train")}
    assert versions["adversarial"] == provenance.code_version(SCRIPTS / "adversarial.py", package)  # stable
    with open(package / "attacks.py", "a") as f:
        f.write("\n# an edit\n")
    provenance._closure.cache_clear()
    assert provenance.code_version(SCRIPTS / "adversarial.py", package) != versions["adversarial"]
    assert provenance.code_version(SCRIPTS / "train.py", package) == versions["train"]


def test_step_package_imports_nothing_heavy():
    code = ("import sys, crossrep.steps; "
            "print(sorted(m for m in ('torch', 'scipy.signal', 'librosa') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- edits in a real git + DVC repository --------------------------------------------------------

@pytest.fixture
def repo(tmp_path, pipeline_run):
    repo = tmp_path / "repo"
    shutil.copytree(pipeline_run, repo, symlinks=True)          # keeps mtimes and .snakemake metadata
    return repo


def _planned(repo) -> dict:
    """The jobs a dry run plans, per rule (the copy runs its own src/: see the Snakefile)."""
    return job_stats(sh(repo, "snakemake", "--cores", "2", "-n"))


def _edit(path):
    with open(path, "a") as f:
        f.write("\n# an edit that changes no behaviour\n")


def test_library_edit_reruns_exactly_the_jobs_that_run_it(repo):
    full = job_stats(sh(repo, "snakemake", "--cores", "2", "-n", "--forceall"))
    # README and test edits run nothing
    (repo / "README.md").write_text("notes\n")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_x.py").write_text("def test_x():\n    pass\n")
    assert _planned(repo) == {}
    assert "up to date" in sh(repo, "dvc", "status")

    # synthetic.py: the data changes, so everything is planned again; DVC sees the data stage change
    _edit(repo / "src/crossrep/synthetic.py")
    assert _planned(repo) == full
    status = sh(repo, "dvc", "status")
    assert re.search(r"data:\s*\n\s*changed deps:\s*\n\s*modified:\s*src/crossrep/synthetic.py", status), status
    sh(repo, "git", "checkout", "src/crossrep/synthetic.py")
    assert _planned(repo) == {}

    # attacks.py: the attacks and everything downstream of them, no training, no spectrogram
    attacked = {"adversarial": 12, "eps_sweep": 12, "reconstruct": 12, "transfer": 12, "study_perturb": 9,
                "study_score": 9, "listening": 3, "report": 1}
    _edit(repo / "src/crossrep/attacks.py")
    assert _planned(repo) == {**attacked, "all": 1}
    sh(repo, "git", "checkout", "src/crossrep/attacks.py")
    # an edit that changes the attacks' results (half the step): DVC, which compares contents
    # (an edit that changes nothing gives byte-identical shards, and DVC stops there), now
    # reruns the same jobs as Snakemake
    attacks = repo / "src/crossrep/attacks.py"
    code = attacks.read_text()
    assert code.count("sign * cfg.step * grad.sign()") == 1
    attacks.write_text(code.replace("sign * cfg.step * grad.sign()", "sign * 0.5 * cfg.step * grad.sign()"))
    assert _planned(repo) == {**attacked, "all": 1}
    out = sh(repo, "dvc", "repro")
    for stage in ("data", "segments", "spectrograms", "train"):
        assert f"Stage '{stage}' didn't change, skipping" in out
    ran = {}
    for stats in re.findall(r"Job stats:\njob\s+count\n[-\s]+\n(?:\S+\s+\d+\n)+", out):
        ran.update({rule: n for rule, n in job_stats(stats).items() if not rule.startswith("all")})
    assert ran == attacked                                       # DVC's Snakemake ran the same jobs
    assert "Training" not in out
    assert _planned(repo) == {} and "up to date" in sh(repo, "dvc", "status")


# -- dvc.yaml is derived from the rules ----------------------------------------------------------

def test_dvc_yaml_is_in_step_with_the_rules_and_drift_is_named(tmp_path):
    check = [sys.executable, "-m", "crossrep.dvc_stages", "--check"]
    proc = subprocess.run(check, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    drifted = tmp_path / "dvc.yaml"
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())
    stages["stages"]["attack"]["params"].remove("attack.eps_sweep")   # a key the eps_sweep rule reads
    drifted.write_text(yaml.safe_dump(stages, sort_keys=False))
    proc = subprocess.run(check + ["--output", str(drifted)], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "+    - attack.eps_sweep" in proc.stdout and "make dvc.yaml" in proc.stderr


# -- a folder dataset under DVC ------------------------------------------------------------------

GENRES = ["blues", "metal"]


def _recording(root, genre, index, seconds=6.25):
    return write_audio(root / genre / f"{genre}.{index:05d}.wav",
                       synthetic.generate_track(genre, index, 7, seconds, 22050), 22050)


def test_folder_dataset_versioned_by_dvc_reruns_from_the_manifest_when_a_recording_is_added(tmp_path,
                                                                                           default_params):
    p = tiny(default_params)
    p["dataset"].update(kind="folder", root="music", genres=GENRES, folds=2)
    p["attack"].update(methods=["fgsm"], eps_sweep=[1.0])
    wf = dvc_project(write_workflow(tmp_path / "wf", p))
    music = wf / "music"                                         # written after git's first commit: DVC tracks it
    for genre in GENRES:
        for i in range(4):
            _recording(music, genre, i)
    sh(wf, sys.executable, "-m", "crossrep.dvc_stages")          # dvc.yaml for this params.yaml
    stages = yaml.safe_load((wf / "dvc.yaml").read_text())["stages"]
    assert "music" in stages["data"]["deps"] and "music" in stages["segments"]["deps"]
    assert "synthesize" not in stages["data"]["cmd"]
    sh(wf, "dvc", "add", "music")                                # the recordings themselves, versioned
    sh(wf, "dvc", "repro")
    sh(wf, "git", "add", "-A")
    sh(wf, "git", "commit", "-qm", "folder dataset")
    assert "up to date" in sh(wf, "dvc", "status")

    _recording(music, "metal", 4)
    sh(wf, "dvc", "add", "music")
    out = sh(wf, "dvc", "repro")
    assert "Running stage 'data'" in out and "Scanning" in out    # from the manifest on
    sh(wf, "git", "add", "-A")
    sh(wf, "git", "commit", "-qm", "one more recording")
    diff = sh(wf, "dvc", "metrics", "diff", "HEAD~1")
    assert re.search(r"data\.tracks\s+8\s+9\s+1", diff), diff
    assert re.search(r"data\.segments\s+16\s+18\s+2", diff), diff


# -- logs, environment ---------------------------------------------------------------------------

def test_a_failing_rule_writes_its_traceback_to_its_log(tmp_path, default_params):
    p = tiny(default_params)
    p["dataset"].update(kind="folder", root="music", genres=GENRES, folds=2)
    wf = write_workflow(tmp_path / "wf", p)
    for i in range(3):
        _recording(wf / "music", "blues", i)
    _recording(wf / "music", "metal", 0)                        # one recording cannot fill two folds
    proc = snakemake(wf, "data/manifest.csv", check=False)
    assert proc.returncode != 0
    log = (wf / "logs" / "manifest.log").read_text()
    assert "DatasetError" in log and "genre 'metal' has 1 usable recording" in log and "Traceback" in log


def _pins(lines):
    return dict(re.match(r"\s*([A-Za-z0-9_.-]+)==(\S+)\s*$", line).groups() for line in lines
                if re.match(r"\s*[A-Za-z0-9_.-]+==", line))


def test_conda_env_is_self_contained_and_pins_what_requirements_pin():
    env = yaml.safe_load((REPO / "envs/crossrep.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert not [entry for entry in pip if not re.match(r"^[A-Za-z0-9_.-]+==\S+$", entry)], \
        "only exact pins: no -r, -e or paths (Snakemake copies the file and hashes its content only)"
    required = _pins((REPO / "envs/requirements.txt").read_text().splitlines())
    env_pins = _pins(pip)
    assert {k: required.get(k) for k in env_pins} == env_pins
    runtime = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[=<>!~ ]", dep)[0].lower() for dep in runtime}
    assert names == {k.lower() for k in env_pins}
    # every rule runs in it
    rules = [f.read_text() for f in (REPO / "workflow/rules").glob("*.smk")]
    assert sum(r.count("script:") for r in rules) == sum(r.count('"../../envs/crossrep.yaml"') for r in rules)


def test_params_of_every_rule_are_a_subtree_of_params_yaml(default_params):
    from crossrep.params import leaf_keys, select

    tree = select(default_params, ["seed", "attack.fgsm", "spectrogram.n_mels"])
    assert tree == {"seed": 1234, "attack": {"fgsm": {"eps": 0.3}}, "spectrogram": {"n_mels": 64}}
    assert sorted(leaf_keys(tree)) == ["attack.fgsm.eps", "seed", "spectrogram.n_mels"]
    assert copy.deepcopy(default_params) == default_params       # select does not alter its input


def test_dvc_stages_for_a_preset_read_the_dataset_folder_and_the_preset_keys(tmp_path, default_params):
    wf = write_workflow(tmp_path / "wf", default_params)
    shutil.copytree(REPO / "presets", wf / "presets")
    for genre in default_params["dataset"]["genres"]:
        _recording(wf / "gtzan", genre, 0)
    proc = subprocess.run([sys.executable, "-m", "crossrep.dvc_stages", "--configfile", "presets/gtzan-paper.yaml"],
                          cwd=wf, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    stages = yaml.safe_load((wf / "dvc.yaml").read_text())["stages"]
    assert stages["data"]["cmd"] == ("snakemake --cores all --configfile presets/gtzan-paper.yaml manifest "
                                     "--allowed-rules manifest")
    assert "gtzan" in stages["data"]["deps"] and "gtzan" in stages["segments"]["deps"]
    train = stages["train"]["params"]
    from_preset = next(p["presets/gtzan-paper.yaml"] for p in train if isinstance(p, dict))
    assert "model" in from_preset and "train.epochs" in from_preset and "train.threads" not in from_preset
    assert "seed" in train and "train.learning_rate" in train                # not in the preset: params.yaml
