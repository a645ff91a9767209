"""Cross-domain F1: every spotter on the first generator's held-out seed, the warped generator's
validation set and the annotated real clips (core/reproduce/crossdomain.py has the protocol).

Generates the synthetic sets in the run (cached under bench/out/crossdomain/, named by the
generators' source digest, so a rerun with unchanged generators renders nothing), spots every
video with the prototype presets ``paper``, ``recommended``, ``fast`` and VoVNet's shipped
checkpoint, scores them with the MEGC metric and prints the Markdown section bench/run.py
records; the full outcome goes to bench/out/crossdomain.json. The real set is
tests/data/real/labels.csv (and unreliable.csv) over ../shared/fixtures/video; without them the
table says the real set was skipped and why.

    python bench/bench_crossdomain.py [--gen1-count 4] [--gen2-count 6] [--gen2-fast-count 2]
                                      [--spotters "prototype fast" vovnet] [--real DIR]

Cost on the 2-core development machine: see the time line under the table (about 15 minutes
from a clean clone, less when the videos are cached).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from napari_mespot.core.progress import run_to_end
from napari_mespot.core.reproduce.crossdomain import SPOTTERS, Protocol, format_tables, run

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
REAL = ROOT / "tests" / "data" / "real"


def main(argv: list[str] | None = None) -> int:
    defaults = Protocol()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gen1-count", type=int, default=defaults.gen1_count)
    p.add_argument("--gen2-count", type=int, default=defaults.gen2_count)
    p.add_argument("--gen2-fast-count", type=int, default=defaults.gen2_fast_count)
    p.add_argument("--spotters", nargs="+", default=list(SPOTTERS), choices=SPOTTERS)
    p.add_argument("--real", type=Path, default=REAL, help="folder holding the real set's labels.csv and "
                   "unreliable.csv (default: tests/data/real)")
    args = p.parse_args(argv)
    protocol = replace(
        defaults,
        gen1_count=args.gen1_count,
        gen2_count=args.gen2_count,
        gen2_fast_count=args.gen2_fast_count,
        real_labels=args.real / "labels.csv",
        real_unreliable=args.real / "unreliable.csv",
        real_videos=ROOT.parent / "shared" / "fixtures" / "video",
        spotters=tuple(args.spotters),
    )
    OUT.mkdir(exist_ok=True)
    outcome = run_to_end(run(protocol, OUT / "crossdomain"))
    (OUT / "crossdomain.json").write_text(json.dumps(outcome.to_dict(), indent=2) + "\n")
    print(format_tables(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main())
