"""Every development set of seed 3000 in one command, and variants of the ``robust`` preset
scored on all of them.

A fresh machine has none of them, and a change to the spotter is judged on all of them
(``src/napari_mespot/data/README.md``: the seed table and each adopted entry's rule). The sets
(development seed 3000 only; never a validation or evaluation seed):

- ``OUT/plateau``: ``bench/dev_sustained.py``'s held and plain videos;
- ``OUT/varied``: the varied mix (``mespot synth --vary``), eight 20-s videos, 2 ME + 2 MaE each;
- ``OUT/svaried`` and ``OUT/splain``: the same seed with each expression's AUs on their own
  timing (``--stagger 0.4``), eight varied and six plain videos.

A folder that already holds its ground truth is not rendered again; the walks (landmarks, flow,
matching curves) are cached by ``bench/dev_sustained.py``, which then scores every variant on
every set and on all of them pooled. About 25 minutes on 2 cores from nothing, seconds after.

    python bench/dev_sets.py OUT [--variant NAME=key:value,key:value ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from napari_mespot.core.progress import run_to_end
from napari_mespot.core.synth.generator import GROUND_TRUTH_CSV, write_synthetic_dataset
from napari_mespot.core.synth.settings import SynthSettings
from napari_mespot.core.synth.varied import write_varied_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dev_sustained  # a sibling script, not a package

#: name -> (the varied mix, videos, au_stagger); every video 20 s with 2 ME + 2 MaE.
SETS: dict[str, tuple[bool, int, float]] = {
    "varied": (True, 8, 0.0),
    "svaried": (True, 8, 0.4),
    "splain": (False, 6, 0.4),
}


def render(out: Path) -> list[Path]:
    """The folders of :data:`SETS` under ``out``, each rendered unless it has its ground truth."""
    folders = []
    for name, (vary, count, stagger) in SETS.items():
        folder = out / name
        folders.append(folder)
        if (folder / GROUND_TRUTH_CSV).exists():
            continue
        settings = SynthSettings(duration_s=20.0, n_me=2, n_mae=2, au_stagger=stagger)
        if vary:
            run_to_end(write_varied_dataset(folder, settings, dev_sustained.SEED, count))
        else:
            run_to_end(write_synthetic_dataset(folder, settings, dev_sustained.SEED, count))
        print(f"rendered {folder}", file=sys.stderr, flush=True)
    return folders


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--variant", nargs="*", default=[], help="NAME=key:value,key:value on top of robust")
    args = p.parse_args(argv)
    folders = render(args.out)
    variants = ["--variant", *args.variant] if args.variant else []
    return dev_sustained.main([str(args.out / "plateau"), "--also", *map(str, folders), *variants])


if __name__ == "__main__":
    raise SystemExit(main())
