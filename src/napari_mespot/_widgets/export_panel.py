"""Export dock: the current video's corrected track to a label file, as ``mespot export`` does.

The dock only gathers the choices; :func:`napari_mespot.core.review.export.export_corrected` decides
what is written and refuses to replace an existing file unless the user said so — by ticking
"overwrite" or by confirming the file dialog's own overwrite question for that very file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from napari_mespot._widgets.review_keys import actions_for
from napari_mespot._widgets.video_review import VideoReview
from napari_mespot.core.errors import MespotError
from napari_mespot.core.labels import FORMATS
from napari_mespot.core.review.export import EXPORT_FORMATS, default_video_name, export_corrected

if TYPE_CHECKING:
    import napari


def default_export_folder(review: VideoReview) -> Path:
    """Where an export goes unless the user browses: beside the video and its session, or —
    when the session lives in the user's hidden data folder (the shipped samples, a read-only
    dataset) — the home folder, where the user will find the file."""
    session_folder = review.session.path.parent
    if session_folder == Path(review.video.path).parent:
        return session_folder
    return Path.home()


class ExportWidget(QWidget):
    """Write the annotator's corrected intervals of the current video."""

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        self.actions = actions_for(napari_viewer)
        self.review: VideoReview | None = None
        self._confirmed: Path | None = None  # the file the dialog asked to overwrite
        self.video = QLabel()
        self.format = QComboBox()
        for name in EXPORT_FORMATS:
            self.format.addItem(f"{name} — {FORMATS[name].description}", name)
        self.format.currentIndexChanged.connect(self._match_extension)
        # the descriptions are long: the dock stays narrow, the open list shows them whole
        self.format.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.format.setMinimumContentsLength(16)
        self.video_name = QLineEdit()
        self.video_name.setToolTip("video id written into the file (CAS(ME)² needs ids like 15_0101)")
        self.path = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.all_statuses = QCheckBox("also rejected and undecided intervals")
        self.overwrite = QCheckBox("overwrite an existing file")
        self.button = QPushButton("Export corrected intervals")
        self.button.clicked.connect(self.export)
        self.result = QLabel()
        self.result.setWordWrap(True)

        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Video:", self.video)
        form.addRow("Format:", self.format)
        form.addRow("Video name:", self.video_name)
        form.addRow("File:", path_row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.all_statuses)
        layout.addWidget(self.overwrite)
        layout.addWidget(self.button)
        layout.addWidget(self.result)
        layout.addStretch(1)
        self.actions.events.review_changed.connect(self._set_review)
        self._set_review(self.actions.review)

    @property
    def format_name(self) -> str:
        return self.format.currentData()

    def _set_review(self, review: VideoReview | None) -> None:
        self.review = review
        self.button.setEnabled(review is not None)
        if review is None:
            self.video.setText("no video layer")
            return
        self.video.setText(review.layer.name)
        name = default_video_name(review.video.path)
        self.video_name.setText(name)
        self.path.setText(str(default_export_folder(review) / f"{name}.corrected.csv"))
        self._match_extension()

    def _match_extension(self, *_: Any) -> None:
        """Keep the file's extension the chosen format's, so the file opens as what it is."""
        text = self.path.text().strip()
        if text:
            self.path.setText(str(Path(text).with_suffix(FORMATS[self.format_name].extensions[0])))

    def _browse(self) -> None:
        extension = FORMATS[self.format_name].extensions[0]
        chosen, _ = QFileDialog.getSaveFileName(
            self, "Export corrected intervals", self.path.text(), f"*{extension}"
        )
        if chosen:
            self.path.setText(chosen)
            # the dialog has already asked before returning an existing file
            self._confirmed = Path(chosen) if Path(chosen).exists() else None

    def export(self) -> None:
        if self.review is None:
            return
        out = Path(self.path.text().strip())
        force = self.overwrite.isChecked() or (self._confirmed is not None and out == self._confirmed)
        try:
            report = export_corrected(
                self.review.model,
                out,
                self.video_name.text().strip(),
                self.format_name,
                all_statuses=self.all_statuses.isChecked(),
                force=force,
                inputs=(self.review.session.path, self.review.video.path),
            )
        except MespotError as exc:
            self.result.setText(f"<span style='color:#e05050'>{exc}</span>")
            self.actions.message(str(exc))
            return
        self._confirmed = None
        self.result.setText(report.summary())
        self.actions.message(report.summary())
