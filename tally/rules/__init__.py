"""Ballot rules and figures: ballots + form spec + meeting facts + settings -> `TallyResult`.

Pure functions over plain data (DOMAIN.md is the spec): per-block validity, the figures of each
ballot kind, reconciliation and warnings. Must not touch the database, files or `server`.
Entry point: `tally.rules.compute.compute`.
"""

from tally.rules.compute import (
    compute,
    compute_form,
    compute_meeting,
    result_sha256,
    verify_result_sha256,
)
from tally.rules.result import MeetingResult, TallyInputError, TallyResult

__all__ = ["MeetingResult", "TallyInputError", "TallyResult", "compute", "compute_form",
           "compute_meeting", "result_sha256", "verify_result_sha256"]
