"""A real package: ``pip install .`` and ``pip install -e .`` into a fresh venv, then, from another
directory, ``python -m gradcam_core models`` and the console script work, and the installed package
finds its catalogue, weights and example photos.

The venv reuses the system's packages (``--system-site-packages``: torch is large) and installs only
this package (``--no-deps --no-build-isolation``: no network). It builds from a copy of the files a
clone has, so no build/ or .egg-info lands in the working copy.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.app  # slow-ish: a venv and two pip installs (conftest: add to _APP_MODULES)

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ["gradcam_core", "weights", "examples", "pyproject.toml", "setup.py", "README.md", "requirements.txt", "LICENSE"]


def _env(**env) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "GRADCAM_HOME", "GRADCAM_WEIGHTS_DIR"}}
    return {**clean, **env, "PIP_NO_INPUT": "1"}


def _run(cmd: list, cwd: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=_env(**env), capture_output=True, text=True, timeout=600)


def _run_together(cmds: list[list], cwd: Path) -> list[subprocess.CompletedProcess]:
    """Run independent commands at the same time (each imports torch: seconds of one core's CPU, and
    the machine has two), then each one's result, in order."""
    procs = [subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for cmd in cmds]
    done = []
    for cmd, proc in zip(cmds, procs):
        try:
            out, err = proc.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            raise
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """(venv's python, its console script, the source copy, an unrelated working directory)."""
    base = tmp_path_factory.mktemp("package")
    src = base / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyi")
    for name in SOURCE:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(ROOT / name, src / name, **(
            {"ignore": ignore} if (ROOT / name).is_dir() else {}))
    env_dir = base / "venv"
    # no pip of its own: the system's pip and setuptools (visible through system-site-packages) install into it
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    return bindir / "python", bindir / "gradcam-explorer", src, elsewhere


def _install(python: Path, src: Path, editable: bool) -> None:
    cmd = [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"] + (["-e"] if editable else []) + [src]
    done = _run(cmd, cwd=src.parent)
    assert done.returncode == 0, done.stdout + done.stderr


_WHERE = ("import gradcam_core, gradcam_core.base.home as h; from gradcam_core.present.words import say; "
          "print(gradcam_core.__file__); print(h.path('weights') / 'lenet_mnist.pt'); "
          "print(h.path('examples') / 'manifest.json'); print(say('input.not_a_number', name='Row'))")

#: Each data path a module computes, printed as name=path (all must exist in the installed copy).
_FOUND = ("from gradcam_core.models import lenet, weights; from gradcam_core.data import examples, deeplink; "
          "from gradcam_core.analysis import shortcut, photo_edits; "
          "print('lenet=' + str(lenet.DEFAULT_WEIGHTS)); print('weights_dir=' + str(weights.weights_dir())); "
          "print('examples=' + str(examples.EXAMPLES_DIR / 'manifest.json')); print('deeplink=' + str(deeplink._EXAMPLES)); "
          "print('shortcut=' + str(shortcut.WEIGHTS_DIR)); print('photo_edits=' + str(photo_edits.examples_dir())); "
          "print('trust_aggregate=' + str(weights.weights_dir() / 'trust_aggregate_mnist.json'))")


def _check_cli(models: subprocess.CompletedProcess, helped: subprocess.CompletedProcess) -> None:
    """``python -m gradcam_core models`` and the console script's ``--help``, as run by :func:`_install_and_run`."""
    assert models.returncode == 0, models.stdout + models.stderr
    assert "efficientnet_lite0  [available]" in models.stdout  # its weights ship in a registry package
    # the installed copy finds LeNet's weights (package data, through gradcam_core.base.home), not just a line
    assert "lenet  [available]" in models.stdout and "layers: conv1, relu1, pool1, conv2, relu2, pool2" in models.stdout
    lenet = models.stdout.split("lenet  [available]", 1)[1]
    assert "source: weights file " in lenet and "lenet_mnist.pt" in lenet.splitlines()[1]
    assert helped.returncode == 0, helped.stderr
    assert "usage: " in helped.stdout and "explain" in helped.stdout and "models" in helped.stdout


def _install_and_run(python: Path, script: Path, src: Path, elsewhere: Path, editable: bool, code: str = _WHERE):
    """Install the copy, then, at the same time and from another directory: ``python -c code`` (by default
    the module, weights, examples manifest and a catalogue sentence as the installed code finds them),
    ``python -m gradcam_core models`` and ``gradcam-explorer --help``. Returns code's output lines and
    the other two commands' results."""
    _install(python, src, editable=editable)
    where, models, helped = _run_together([[python, "-c", code], [python, "-m", "gradcam_core", "models"],
                                           [script, "--help"]], cwd=elsewhere)
    assert where.returncode == 0, where.stderr
    return where.stdout.strip().splitlines(), models, helped


def test_pip_install_dot_gives_a_working_package_and_console_script(package):
    python, script, src, elsewhere = package
    # _WHERE and _FOUND in one interpreter: each start imports torch
    lines, models, helped = _install_and_run(python, script, src, elsewhere, editable=False, code=_WHERE + "\n" + _FOUND)
    (module, weights, manifest, sentence), found = lines[:4], lines[4:]
    site = Path(python).parent.parent
    assert Path(module).is_relative_to(site) and not Path(module).is_relative_to(src)  # the installed copy
    assert Path(weights).is_file() and Path(weights).is_relative_to(site)  # package data: gradcam_core/_home
    assert Path(weights).read_bytes() == (ROOT / "weights" / "lenet_mnist.pt").read_bytes()
    assert Path(manifest).is_file() and (Path(manifest).parent / "animals" / "chelsea_cat.jpg").is_file()
    assert sentence == "Row must be a number."  # the catalogue travelled with the code
    _check_cli(models, helped)
    # every data path the code uses resolves inside the installed copy (weights, examples, trust aggregate)
    assert [line.split("=", 1)[0] for line in found] == ["lenet", "weights_dir", "examples", "deeplink", "shortcut",
                                                         "photo_edits", "trust_aggregate"], found
    for line in found:
        name, where = line.split("=", 1)
        assert Path(where).exists() and Path(where).is_relative_to(site), (name, where)


def test_pip_install_editable_runs_from_the_working_copy(package):
    python, script, src, elsewhere = package
    (module, weights, manifest, _), models, helped = _install_and_run(python, script, src, elsewhere, editable=True)
    assert Path(module).resolve().is_relative_to(src.resolve())  # the working copy's own files
    assert Path(weights).resolve() == (src / "weights" / "lenet_mnist.pt").resolve()  # its top-level weights/
    _check_cli(models, helped)


def test_gradcam_home_overrides_where_the_data_is(package, tmp_path):
    python, _, _, elsewhere = package
    (tmp_path / "weights").mkdir()
    (tmp_path / "examples").mkdir()
    where = _run([python, "-c", _WHERE], cwd=elsewhere, GRADCAM_HOME=str(tmp_path))
    assert where.returncode == 0, where.stderr
    assert where.stdout.splitlines()[1] == str(tmp_path / "weights" / "lenet_mnist.pt")

