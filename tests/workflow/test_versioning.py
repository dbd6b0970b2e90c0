"""Code and data versioning on real runs: an edit reruns exactly the jobs whose code it
touches (Snakemake and `dvc repro` agree), a folder dataset lives under DVC, a failing
rule's log holds its traceback, and dvc.yaml's stages follow a preset."""
import re
import shutil
import subprocess
import sys

import yaml

from conftest import REPO, TINY_CLIP_SECONDS, dvc_project, sh, snakemake, tiny, write_audio, write_workflow
from crossrep import dataset, synthetic
from crossrep.shards import open_shard
from tools.jobstats import job_stats

SCRIPTS = REPO / "workflow" / "scripts"


# -- edits in a real git + DVC repository --------------------------------------------------------

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

    # reconstruction.py (the inverse STFT, NNLS, Griffin-Lim): every rebuild and what follows
    # it, and no spectrogram, training or attack job (they run crossrep.features alone)
    _edit(repo / "src/crossrep/reconstruction.py")
    rebuilt = _planned(repo)
    assert rebuilt["transfer"] == 12 and rebuilt["study_perturb"] == 8 and rebuilt["listening"] == 2
    assert not {"segments", "spectrograms", "train", "predict_clean", "adversarial", "eps_sweep"} & set(rebuilt)
    sh(repo, "git", "checkout", "src/crossrep/reconstruction.py")

    # attacks.py: the attacks and everything downstream of them, no training, no spectrogram
    attacked = {"adversarial": 8, "eps_sweep": 8, "transfer": 8, "study_perturb": 8,
                "study_score": 8, "listening": 2, "report": 1}
    _edit(repo / "src/crossrep/attacks.py")
    assert _planned(repo) == {**attacked, "all": 1}
    sh(repo, "git", "checkout", "src/crossrep/attacks.py")
    # an edit that changes the attacks' results (half the step): DVC, which compares contents
    # (an edit that changes nothing gives byte-identical shards, and DVC stops there), now
    # reruns the same jobs as Snakemake
    attacks = repo / "src/crossrep/attacks.py"
    code = attacks.read_text()
    assert code.count("adv + cfg.step * grad.sign(") == 1
    attacks.write_text(code.replace("adv + cfg.step * grad.sign(", "adv + 0.5 * cfg.step * grad.sign("))
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


# -- a folder dataset under DVC ------------------------------------------------------------------

GENRES = ["blues", "metal"]


def _recording(root, genre, index, seconds=TINY_CLIP_SECONDS):
    return write_audio(root / genre / f"{genre}.{index:05d}.wav",
                       synthetic.generate_track(genre, index, 7, seconds, 22050), 22050)


def _segment_rows(wf) -> int:
    total = 0
    for shard in sorted((wf / "data/segments").glob("fold*-part*.h5")):
        with open_shard(shard, "audio") as h5:
            total += h5["audio"].shape[0]
    return total


def test_folder_dataset_versioned_by_dvc_reruns_from_the_manifest_when_a_recording_is_added(tmp_path,
                                                                                           default_params):
    """DVC versions the recordings; the data and segments stages depend on the folder, so a
    recording added reruns them from the manifest (the stages after them follow from their
    inputs, as every other test of a rerun shows)."""
    p = tiny(default_params)
    p["dataset"].update(kind="folder", root="music", genres=GENRES, folds=2)
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
    sh(wf, "dvc", "repro", "segments")
    sh(wf, "git", "add", "-A")
    sh(wf, "git", "commit", "-qm", "folder dataset")
    assert "up to date" in sh(wf, "dvc", "status", "segments")
    assert len(dataset.read_manifest(wf / "data/manifest.csv")) == 8 and _segment_rows(wf) == 16

    _recording(music, "metal", 4)
    assert re.search(r"modified:\s+music", sh(wf, "dvc", "status", "segments"))   # the folder changed under DVC
    sh(wf, "dvc", "add", "music")
    out = sh(wf, "dvc", "repro", "segments")
    assert "Running stage 'data'" in out and "Scanning" in out    # from the manifest on
    assert "Running stage 'segments'" in out
    assert len(dataset.read_manifest(wf / "data/manifest.csv")) == 9 and _segment_rows(wf) == 18
    assert "up to date" in sh(wf, "dvc", "status", "segments")


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
