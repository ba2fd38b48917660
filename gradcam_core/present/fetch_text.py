"""The words of a weights fetch (``models/fetch.py`` keeps codes and numbers): its progress, why a
model cannot run right now, and the fetch panel's note, from the catalogue's ``[fetch]`` section.

``models/fetch.py`` keeps its old ``note``, ``page_note`` and ``FetchState.progress_text`` for the
callers that have not moved here yet (the fetch panel, the ImageNet service's model list); they
word the same codes from the same catalogue, and ``tests/test_fetch.py`` checks that both agree on
every branch.
"""
from __future__ import annotations

from gradcam_core.models import fetch
from gradcam_core.models import weights as W
from gradcam_core.present.words import say, text_of

MIB = fetch.MIB


def progress_text(st: fetch.FetchState) -> str:
    """"Fetching ResNet-50 weights: 43 % (42.0 of 97.8 MiB)", or the probe, or the bytes so far."""
    key, values = st.progress_code()
    return say(key, **values)


def reason(st: fetch.FetchState) -> str:
    """Why the fetch failed or found the source offline ("" when it did not)."""
    return text_of(st.reason) if st.reason is not None else ""


def note(key: str) -> str:
    """Why *key* cannot run right now, when a fetch explains it ("" otherwise)."""
    st = fetch.state(key)
    if st is None or W.find_weights(key) is not None:
        return ""
    if st.phase in ("checking", "fetching"):
        return say("fetch.busy_note", progress=progress_text(st))
    if st.phase == "failed":
        return say("fetch.refused_note", title=fetch.title(key), reason=reason(st))
    return ""


def page_note() -> str:
    """Markdown for the page: fetches in progress, refused files, and models fetched here."""
    out = []
    for key, st in fetch.states().items():
        title = fetch.title(key)
        if st.phase in ("checking", "fetching"):
            out.append(say("fetch.busy_page", progress=progress_text(st)))
        elif st.phase == "failed":
            out.append(say("fetch.refused_page", title=title, reason=reason(st)))
        elif st.phase == "done" and key in fetch.AUTO_KEYS:
            out.append(say("fetch.done_default", title=title))
        elif st.phase == "done":
            out.append(say("fetch.done_page", title=title))
    return "\n\n".join(out)
