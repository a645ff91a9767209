"""``mespot export SESSION_OR_VIDEO --out FILE``: write the annotator's corrected track as labels."""

from __future__ import annotations

import argparse

#: Listed here rather than imported, so that ``mespot --help`` does not load the label and video
#: modules; a test checks the list against :data:`napari_mespot.core.review.export.EXPORT_FORMATS`.
FORMATS_HELP = "native-csv, native-json, megc-csv or cas-me2-xlsx"


def register(sub: argparse._SubParsersAction) -> None:
    from napari_mespot.commands._options import add_force_option

    p = sub.add_parser(
        "export",
        help="export the corrected intervals of a review session (native CSV/JSON, MEGC CSV, CAS(ME)² xlsx)",
        description="Read a review session (a <video>.mespot.json sidecar, or a video whose sidecar is "
        "found as the napari plugin finds it) and write its corrected track. Only accepted, edited and "
        "added intervals are written unless --all-statuses is given; kept intervals of one type that overlap "
        "are refused, naming them, unless --allow-overlaps is given. The format follows OUT's extension "
        "(.csv native, .json native, .xlsx CAS(ME)² code_final) unless --format is given. An existing "
        "file is never replaced without --force.",
    )
    p.add_argument("session", metavar="SESSION_OR_VIDEO", help="session sidecar or video file/folder")
    p.add_argument("--out", required=True, metavar="FILE", help="label file to write (atomically)")
    p.add_argument("--format", metavar="FORMAT", help=f"{FORMATS_HELP} (default: by OUT's extension)")
    p.add_argument(
        "--all-statuses",
        action="store_true",
        help="also write rejected and undecided intervals (their status is kept in native formats)",
    )
    add_force_option(p, "FILE")
    p.add_argument(
        "--allow-overlaps",
        action="store_true",
        help="export kept intervals of one type that overlap (refused by default, naming them: "
        "usually one expression accepted from two runs)",
    )
    p.add_argument(
        "--video-name",
        metavar="NAME",
        help="video id written into the labels (default: the video's file name without extension; "
        "CAS(ME)² workbooks need ids like 15_0101)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from napari_mespot.core.review.export import default_video_name, export_corrected, load_session

    session = load_session(args.session)
    video = args.video_name if args.video_name is not None else default_video_name(session.identity.path)
    report = export_corrected(
        session.model,
        args.out,
        video,
        args.format,
        all_statuses=args.all_statuses,
        force=args.force,
        allow_overlaps=args.allow_overlaps,
        inputs=(args.session, session.path),
    )
    print(report.summary())
    return 0
