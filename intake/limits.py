"""The hard caps of intake, as one typed settings object: `IntakeLimits`.

Every cap on what a person or a device can hand over lives here under the name its refusal
message uses: the bytes of one upload and of a ZIP once unpacked, the bytes of one file, the
pages of a PDF and the frames of a TIFF, the pixels of one page, the size of a form spec, and
how often a job cut off by a crash is taken up again. `scantally serve` and `scantally ingest`
set them from their options (README, "Settings"); the web server keeps them on
`ServerSettings.limits`, the upload check (`server.uploads`) and the page planner
(`scanner.pages.PageLimits`, from `IntakeLimits.pages`) apply them.

What they bound: the server holds at most one page per OMR worker decoded, and a few encoded
sheets queued (`intake.pipeline`), so its memory is about the workers' base plus
`max_pixels` × 3 bytes (RGB) × a few working copies per worker, whatever is uploaded; a file
over a count cap is refused before any of its pages is read.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from forms.yamlsafe import DEFAULT_LIMITS as YAML_LIMITS
from scanner.folder import MAX_MEMBER_BYTES
from scanner.images import MAX_FILE_BYTES, MAX_PDF_PAGES, MAX_PIXELS, MAX_TIFF_FRAMES
from scanner.pages import PageLimits

__all__ = ["IntakeLimits", "MiB"]

MiB = 1024 * 1024


class IntakeLimits(BaseModel):
    """The caps (see the module docstring); each field's name is what its refusal names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: the whole body of one upload request (all its files)
    max_request_bytes: int = Field(512 * MiB, ge=1)
    #: what the members of one uploaded ZIP may add up to once unpacked
    max_zip_bytes: int = Field(2048 * MiB, ge=1)
    max_zip_members: int = Field(10_000, ge=1)
    #: unpacked / packed size of a ZIP member above which it is a bomb (scans barely compress)
    max_zip_ratio: float = Field(50.0, gt=1)
    #: one member of a ZIP read by `scantally ingest` or a scan folder
    max_zip_member_bytes: int = Field(MAX_MEMBER_BYTES, ge=1)
    #: one scanned file
    max_file_bytes: int = Field(MAX_FILE_BYTES, ge=1)
    #: pages of one PDF, frames of one TIFF: a file over it is refused whole, before reading
    max_pdf_pages: int = Field(MAX_PDF_PAGES, ge=1)
    max_tiff_frames: int = Field(MAX_TIFF_FRAMES, ge=1)
    #: pixels of one decoded page (300 dpi A3 is 17 Mpx)
    max_pixels: int = Field(MAX_PIXELS, ge=1)
    #: one uploaded form spec; at most what the YAML reader takes (`forms.yamlsafe.YamlLimits`,
    #: which also caps its aliases, depth and nodes)
    max_spec_bytes: int = Field(YAML_LIMITS.max_bytes, ge=1, le=YAML_LIMITS.max_bytes)
    #: how often an upload job cut off by a crash is taken up again on restart (0: it is
    #: marked failed at once); a job that crashes the server every time ends failed
    max_job_resumes: int = Field(1, ge=0, le=10)

    @property
    def pages(self) -> PageLimits:
        """The caps the page planner and the decoders apply."""
        return PageLimits(max_pixels=self.max_pixels, max_file_bytes=self.max_file_bytes,
                          max_pdf_pages=self.max_pdf_pages, max_tiff_frames=self.max_tiff_frames)
