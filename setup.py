"""Map the top-level ``sample_data/`` folder into the wheel as ``napari_mespot.sample_data``.

Everything else about the build lives in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages("src"), "napari_mespot.sample_data"],
    package_dir={"": "src", "napari_mespot.sample_data": "sample_data"},
    package_data={
        "napari_mespot": ["napari.yaml", "data/*", "data/faces/*"],
        "napari_mespot.sample_data": ["*.mp4", "*.csv", "*.md", "*.npz"],
    },
)
