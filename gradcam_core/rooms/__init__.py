"""The workshop rooms' store (issue 26): SQLite by default, Redis for several boxes, one interface.

``open_store()`` returns the store named by ``$GRADCAM_ROOMS_URL`` (or the SQLite file in
``$GRADCAM_ROOMS_DIR``); see :mod:`gradcam_core.rooms.store`. This package imports only
:mod:`gradcam_core.base` (the service layer above uses it; it knows nothing of models or words).
"""
from gradcam_core.rooms.store import (STATUSES, Answer, Person, Room, RoomStore, Submission, blob_name_of,
                                      default_path, open_store, valid_code)

__all__ = ["STATUSES", "Answer", "Person", "Room", "RoomStore", "Submission", "blob_name_of", "default_path",
           "open_store", "valid_code"]
