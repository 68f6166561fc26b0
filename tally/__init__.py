"""Tally: meetings, the store, the ballot rules, review, the sheet ledger, manual entry, recount
and reports.

Owns persistence (SQLAlchemy: SQLite by default, PostgreSQL for several stations), the rules of
DOMAIN.md, the review queue and the exports. Reads layouts from `forms` and readings from `omr`.
Must not import `intake` (the pipeline that feeds it) or `server`; runs no worker processes.
"""
