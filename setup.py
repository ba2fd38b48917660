"""The packages for setuptools (everything else is in pyproject.toml).

weights/ and examples/ sit at the repository's top level (the app, tools/ and the tests read them
there). A wheel can only carry files inside its packages, so an installed copy of each goes in as
the package-data folders ``gradcam_core/_home/weights`` and ``gradcam_core/_home/examples``;
``gradcam_core.base.home`` finds whichever is there. The code packages are found, not listed, so a new
sub-package ships without touching this file.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["gradcam_core", "gradcam_core.*"])
    + ["gradcam_core._home.weights", "gradcam_core._home.examples"],
    package_dir={"gradcam_core._home.weights": "weights", "gradcam_core._home.examples": "examples"},
)
