"""Which code each rule runs and hashes, dvc.yaml in step with the rules, the rules' params
as sub-trees of params.yaml, and a self-contained conda env: checked without running a job."""
import copy
import re
import shutil
import subprocess
import sys

import tomllib
import yaml

from conftest import REPO
from crossrep import provenance

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
    # the transfer step rebuilds through reconstruction.rebuild, which draws its seeds with
    # shards.row_seeds: a module imported through another counts
    assert {"steps/transfer.py", "reconstruction.py", "features.py", "shards.py", "metrics.py"} <= _names(
        SCRIPTS / "transfer.py")
    # the listening step imports reconstruction lazily, inside a function: still found
    assert "reconstruction.py" in _names(SCRIPTS / "listening.py")
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


