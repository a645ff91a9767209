"""napari dock widgets: Qt and layer plumbing only; the science they show lives in ``core``.

The one wiring between docks that is not a call: a review state made for a layer (by any dock,
or a script) binds the review keys in that layer's viewer.
"""

from napari_mespot._widgets.review_keys import enable_review_keys
from napari_mespot._widgets.video_review import review_created

review_created.connect(enable_review_keys)
