"""``mespot convert IN OUT``: rewrite labels in another format (frame conventions converted)."""

from __future__ import annotations

import argparse

from napari_mespot.commands._options import POSITIVE, add_force_option
from napari_mespot.commands.eval import add_label_options, label_formats, quirk_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="convert label files between formats (native CSV/JSON, MEGC CSV, CAS(ME)² workbook)",
        description="Read a label file in any readable format and write it in another. The input "
        "format is detected from the extension and content (or --format); the output format follows "
        "OUT's extension (.csv native, .json native, .xlsx CAS(ME)² code_final) unless --to is given. "
        "Frames are converted between each format's convention; dataset defects are repaired as "
        "--quirk says and logged. An existing OUT is replaced only with --force; IN never.",
    )
    p.add_argument("input", metavar="IN", help="label file to read")
    p.add_argument("output", metavar="OUT", help="label file to write (atomically)")
    p.add_argument(
        "--format",
        dest="in_format",
        choices=label_formats(),
        metavar="FORMAT",
        help=f"format of IN (default: detected): {', '.join(label_formats())}",
    )
    p.add_argument(
        "--to",
        dest="out_format",
        choices=label_formats(writable=True),
        metavar="FORMAT",
        help=f"format of OUT (default: by extension): {', '.join(label_formats(writable=True))}",
    )
    p.add_argument("--fps", type=POSITIVE, help="frame rate: types rows without a type by duration")
    add_force_option(p)
    add_label_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from napari_mespot.core.atomic import check_output
    from napari_mespot.core.labels import output_format, read_labels, write_labels

    out_format = output_format(args.output, args.out_format)  # fail before reading a large file
    check_output(args.output, inputs=[args.input], force=args.force)
    labels = read_labels(args.input, args.in_format, quirks=quirk_options(args), fps=args.fps)
    write_labels(args.output, labels, out_format)
    counts = labels.counts()
    print(
        f"wrote {args.output} ({out_format}) from {labels.format}: {len(labels)} video(s), "
        f"{counts['mae']} MaE + {counts['me']} ME"
    )
    return 0
