"""Signed offline exchange: a meeting out of one store as one signed file, into another.

`export_meeting` writes a bundle (`scantally.bundle/1`, a zip): the meeting (spec and layout of
each form, settings, the team's facts, printed serials), its batches, pages (readings), review
decisions (write-in names among them), its audit chain, the station's newest signed anchor and,
optionally, every page image; a manifest lists each member's SHA-256 and is signed with the
station's Ed25519 key (`tally.keys`). `import_bundle` checks all of it before writing anything
(signature, a trusted signer, every member hash, the audit chain re-computed and every row
against it, the anchor, every image hash) and then writes the meeting in one transaction under
new ids with a fresh local audit chain that cites the bundle; the station's own chain is kept
beside it (`ExchangeImport`). Nothing here knows about the command line.
"""

from tally.exchange.bundle import BUNDLE_SCHEMA, BundleError
from tally.exchange.export import ExportResult, export_meeting
from tally.exchange.importer import ImportResult, import_bundle
from tally.exchange.verify import VerifiedBundle, verify_bundle

__all__ = ["BUNDLE_SCHEMA", "BundleError", "ExportResult", "ImportResult", "VerifiedBundle",
           "export_meeting", "import_bundle", "verify_bundle"]
