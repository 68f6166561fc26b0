"""Keep a meeting's per-person figures warm: index its people and cache its cut when the
meeting changes in a way a department store sees, so that a cadre's view only reads.

A department store gets meetings only by `scantally import` of a bundle; the import calls
`warm_meeting` after its transaction, so the first view of a cadre finds every imported
meeting's figures cached (`tally.cadre.figures`, valid while the meeting's audit head is
unchanged). A report computes the meeting's results anyway and hands them here
(`warm_from_results`: the cut only, no second tally); going official (test data cleared) warms
the emptied meeting. A meeting changed by any other path (a review decision at a station) is
simply stale and re-tallied on its next view, as before.
"""

from __future__ import annotations

from tally.cadre.figures import cache_results, refresh_meeting
from tally.cadre.model import MeetingFigures
from tally.cadre.people import index_meeting
from tally.results import MeetingResults
from tally.store import Store


def warm_meeting(store: Store, meeting_id: int) -> MeetingFigures:
    """Index the meeting's people and tally + cache its figures now."""
    index_meeting(store, meeting_id)
    return refresh_meeting(store, meeting_id)


def warm_from_results(store: Store, results: MeetingResults) -> MeetingFigures:
    """Index the meeting's people and cache the cut of results computed elsewhere."""
    index_meeting(store, results.meeting_id)
    return cache_results(store, results)
