"""Simulated corpora: N marked, scanned sheets of a form and their ground truth.

`generate` writes one image per page (or one multi-page TIFF per sheet) and `truth.json`;
`render_marked_page` draws one exact page from explicit marks and degradations, for tests and
fixtures. Each sheet is drawn from its own random stream (seed, sheet number), so a corpus is the
same whatever the number of worker processes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from forms.code import make_payload
from forms.load import load_spec
from forms.render import sequential_serials
from omr.sim import degrade as dg
from omr.sim import marks as mk
from omr.sim.files import code_decodes, encode, roundtrip_jpeg, write_tiff
from omr.sim.sheet import FormContext, FormPage, draw_page, expect_of, load_form
from omr.sim.truth import PageTruth, SheetTruth, Truth, truth_json
from omr.sim.voters import Mark, Population, Rates, SheetPlan

FORMATS = ("jpg", "png", "tiff")
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
Progress = Callable[[int, int], None]


# --- one sheet of a corpus ------------------------------------------------------------------

NO_DEGRADE = dg.Profile("none", jpeg_range=(95, 95))
MAX_PLANS = 6
UNREADABLE_CAUSES = ("other_form", "qr_damaged", "not_a_ballot")


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to make sheets of one corpus."""

    spec_path: Path
    out_dir: Path
    seed: int
    dpi: int
    fmt: str
    profile: dg.Profile
    degrade: bool
    category: str | None
    serial_start: int
    other_spec: Path | None
    pages: int
    rates: Rates | None = None

    def file_name(self, index: int, page: int) -> str:
        base = f"sheet-{index:05d}"
        if self.fmt == "tiff":
            return f"{base}.tiff#{page}"
        return f"{base}-p{page}.{self.fmt}" if self.pages > 1 else f"{base}.{self.fmt}"


@lru_cache(maxsize=8)
def _population(spec_path: Path, dpi: int, seed: int, category: str | None,
                rates: Rates | None = None) -> Population:
    ctx = load_form(spec_path, dpi)
    cats = ctx.categories if ctx.category_mode == "sheet" else []
    return Population(ctx.layout, seed, cats, category, rates)


def _cause(rng: np.random.Generator, profile: dg.Profile, other: bool) -> str | None:
    u, acc = rng.random(), 0.0
    for cause, p in zip(UNREADABLE_CAUSES, (profile.other_form, profile.qr_blot,
                                            profile.noise_page),
                        strict=True):
        acc += p
        if u < acc:
            return cause if cause != "other_form" or other else None
    return None


def make_sheet(job: Job, index: int) -> SheetTruth:
    """Draw, degrade and write sheet number `index` (1-based) of a corpus; its truth."""
    ctx = load_form(job.spec_path, job.dpi)
    rng = np.random.default_rng([job.seed, index])
    serial = sequential_serials(1, job.serial_start + index - 1)[0]
    profile = job.profile if job.degrade else NO_DEGRADE
    population = _population(job.spec_path, job.dpi, job.seed, job.category, job.rates)
    plan = population.plan_sheet(rng)
    scan = dg.plan_scan_mode(rng, profile, job.fmt)
    colour = any(o["name"] == "colour" for o in scan)
    bitonal = any(o["name"] == "bitonal" for o in scan)
    tail = [o for o in scan if o["name"] in ("colour", "jpeg")]
    jpeg = [o for o in scan if o["name"] == "jpeg"]
    cause = _cause(rng, profile, job.other_spec is not None)
    if cause == "other_form":
        assert job.other_spec is not None
        other = load_form(job.other_spec, job.dpi)
        plan = _population(job.other_spec, job.dpi, job.seed, None, job.rates).plan_sheet(rng)
        fp = other.pages[0]
        image, _, _, _ = draw_page(fp, serial, plan, colour, 0, rng)
        image, h, ops = _degrade(image, fp, serial, rng, profile, scan, None)
        truth = PageTruth(1, job.file_name(index, 1), "unknown_form", degradations=ops + tail,
                          form=other.form_id, mm_to_px=_matrix(h))
        _write(job, index, [image], [truth], bitonal)
        return SheetTruth(serial, [truth], voter=plan.voter())
    bad_page = int(rng.integers(len(ctx.pages))) if cause else -1
    images, pages = [], []
    for k, fp in enumerate(ctx.pages):
        strays = int(rng.integers(1, 3)) if rng.random() < population.rates.stray_page else 0
        name = job.file_name(index, k + 1)
        if cause == "not_a_ballot" and k == bad_page:
            seed = int(rng.integers(0, 2**31 - 1))
            image = dg.noise_page(fp.template.image.shape, seed)
            ops = [{"name": "noise_page", "seed": seed}]
            if bitonal:
                ops.append({"name": "bitonal", "method": "threshold", "level": 128})
                image = dg.apply(image, ops[1:], fp.info)[0]
            truth = PageTruth(k + 1, name, "unreadable", degradations=ops + jpeg, reason=cause)
        else:
            image, marked, cancelled, drawn = draw_page(fp, serial, plan, colour, strays, rng)
            image, h, ops = _degrade(image, fp, serial, rng, profile, scan,
                                     cause if k == bad_page else None)
            expect = "unreadable" if k == bad_page else expect_of(marked, cancelled)
            truth = PageTruth(k + 1, name, expect, marked, cancelled, drawn, ops + tail,
                              reason=cause if k == bad_page else None, mm_to_px=_matrix(h))
        images.append(image)
        pages.append(truth)
    _write(job, index, images, pages, bitonal)
    return SheetTruth(serial, pages, plan.category, plan.writeins, plan.comment, plan.voter())


#: fallback bitonal threshold, the middle of `degrade._plan_bitonal`'s 198-212 on a white page
GENTLE_BITONAL_LEVEL = 205


def _degrade(image: np.ndarray, fp: FormPage, serial: str, rng: np.random.Generator,
             profile: dg.Profile, scan: list[dict], unreadable: str | None
             ) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Plan and apply a page's degradations, re-planning (up to MAX_PLANS times) until the QR
    code decodes exactly when the truth will say it does: a page called readable never carries
    a code that a reader (zxing-cpp here) cannot decode, and a blotted code never decodes."""
    tpl = fp.template
    payload = make_payload(tpl.form_id, tpl.layout_hash, tpl.page, serial)
    quality = next((o["quality"] for o in scan if o["name"] == "jpeg"), None)
    want = unreadable != "qr_damaged"
    for attempt in range(MAX_PLANS + 1):
        if attempt < MAX_PLANS:
            ops = dg.plan_page(rng, profile, fp.info, scan, unreadable)
        else:  # the gentlest scan that still keeps the sheet's mode and the forced cause
            ops = dg.plan_page(rng, NO_DEGRADE, fp.info, [], unreadable)
            if any(o["name"] == "bitonal" for o in scan):
                # the threshold of a normal plan (between paper and the lightest pencil): 128
                # would erase a light pencil mark that the truth still calls clear
                ops.append({"name": "bitonal", "method": "threshold",
                            "level": GENTLE_BITONAL_LEVEL, "black": 0})
        out, h = dg.apply(image.copy(), ops, fp.info)
        if code_decodes(out, h, tpl.code_mm, payload, quality) == want:
            break
    return out, h, ops


def _matrix(h: np.ndarray) -> list[list[float]]:
    return [[round(float(v), 6) for v in row] for row in h / h[2, 2]]


def _write(job: Job, index: int, images: list[np.ndarray], pages: list[PageTruth],
           bitonal: bool) -> None:
    if job.fmt == "tiff":
        quality = next((o["quality"] for o in pages[0].degradations if o["name"] == "jpeg"), None)
        write_tiff(job.out_dir / pages[0].path_and_index[0], images, bitonal, job.dpi, quality)
        return
    for image, page in zip(images, pages, strict=True):
        data = encode(image, job.fmt, page.degradations, job.dpi)
        (job.out_dir / page.file).write_bytes(data)


def _make_sheet_star(args: tuple[Job, int]) -> SheetTruth:
    return make_sheet(*args)


# --- public API -----------------------------------------------------------------------------


def find_other_spec(spec_path: Path, form_id: str) -> Path | None:
    """A spec of another form (next to `spec_path`, else in the repository's examples), for
    the "sheet of another form" case; None when there is none."""
    seen: set[Path] = set()
    for folder in (spec_path.resolve().parent, EXAMPLES_DIR):
        for candidate in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            if candidate in seen:
                continue
            seen.add(candidate)
            try:
                if load_spec(candidate).id != form_id:
                    return candidate
            except Exception:  # not a spec, or a broken one: not a candidate
                continue
    return None


def generate(spec_path: Path, out_dir: Path, sheets: int, seed: int, *, dpi: int = 200,
             fmt: str = "jpg", profile: str | dg.Profile = "mixed", degrade: bool = True,
             progress: Progress | None = None, serial_start: int = 1,
             category: str | None = None, workers: int = 1,
             other_spec: Path | None = None, rates: Rates | None = None) -> Truth:
    """Write `sheets` simulated sheets of the form at `spec_path` into `out_dir`, and
    `truth.json` beside them; returns the truth.

    Files: `sheet-00001.jpg` per sheet (`sheet-00001-p1.jpg`, `-p2.jpg` for a form of several
    pages; with fmt="tiff" one multi-page `sheet-00001.tiff` per sheet, pages as "#k" in the
    truth). Serials are sequential from `serial_start` (test decks). `category` fixes every
    voter's category (and is the batch category of a form whose categories are per batch).
    `profile` names one of `degrade.PROFILES` or is a `degrade.Profile` (e.g. one forcing a
    case); `rates` overrides the voters' behaviour rates (`voters.Rates`); `workers` > 1 uses
    a process pool (same output). `progress(done, total)` is called after each sheet.
    Raises SpecError/LayoutError for a bad spec and ValueError for a bad argument.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if isinstance(profile, str):
        if profile not in dg.PROFILES:
            raise ValueError(f"unknown profile {profile!r}; use one of {', '.join(dg.PROFILES)}")
        profile = dg.PROFILES[profile]
    if sheets < 1 or not 72 <= dpi <= 600:
        raise ValueError("need at least 1 sheet and a dpi between 72 and 600")
    spec_path = Path(spec_path).resolve()
    ctx = load_form(spec_path, dpi)
    if category is not None and category not in ctx.categories:
        raise ValueError(f"category {category!r} is not one of this form's categories "
                         f"({', '.join(ctx.categories) or 'none'})")
    if other_spec is None and degrade:
        other_spec = find_other_spec(spec_path, ctx.form_id)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    job = Job(spec_path, out_dir, seed, dpi, fmt, profile, degrade, category, serial_start,
              other_spec and Path(other_spec).resolve(), len(ctx.pages), rates)
    done: list[SheetTruth] = []
    indices = range(1, sheets + 1)
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            for sheet in pool.map(_make_sheet_star, [(job, i) for i in indices], chunksize=4):
                done.append(sheet)
                if progress:
                    progress(len(done), sheets)
    else:
        for i in indices:
            done.append(make_sheet(job, i))
            if progress:
                progress(len(done), sheets)
    truth = Truth(form={"id": ctx.form_id, "hash": ctx.layout["form"]["hash"],
                        "spec": str(spec_path)},
                  seed=seed, dpi=dpi, sheets=done, profile=profile.name if degrade else "none",
                  format=fmt, root=out_dir)
    tmp = out_dir / ".truth.json.tmp"
    tmp.write_text(truth_json(truth), encoding="utf-8")
    tmp.replace(out_dir / "truth.json")
    return truth


@dataclass
class RenderedPage:
    """One page from `render_page`: the image, the page-mm -> px homography, what it holds."""

    image: np.ndarray
    mm_to_px: np.ndarray | None
    marks: dict[str, list[str]]
    cancelled: dict[str, list[str]]
    stray: int


def render_page(spec_path: Path, marks: dict[str, list[str]] | None = None, *, page: int = 1,
                serial: str = "000001", cancelled: dict[str, list[str]] | None = None,
                cancel_style: str = "scribble", style: str = "tick",
                pen: str | mk.Pen = "black", dpi: int = 200,
                degradations: Sequence[dict] | None = None,
                writeins: dict[str, dict[str, str]] | None = None, strays: int = 0,
                seed: int = 0) -> RenderedPage:
    """Draw page `page` of a form with exactly these marks and degradations.

    `marks` and `cancelled` map field ids to option ids; cancelled boxes are drawn as
    `cancel_style` ("scribble": a tick scribbled over, or "solid": filled solid). `style` is
    tick, cross, circle, solid or partial; `pen` a pen kind (black, blue, red, pencil) or a
    `Pen`. `degradations` are dicts as recorded in a truth file (e.g. `{"name": "turn",
    "deg": 180}`, `{"name": "scale", "factor": 0.97}`, `{"name": "colour"}`,
    `{"name": "jpeg", "quality": 60}`); `seed` drives the hand's jitter.
    """
    ctx = load_form(Path(spec_path).resolve(), dpi)
    if not 1 <= page <= len(ctx.pages):
        raise ValueError(f"page {page} out of range (the form has {len(ctx.pages)})")
    fp = ctx.pages[page - 1]
    planned = [Mark(f, o, style) for f, opts in (marks or {}).items() for o in opts]
    planned += [Mark(f, o, cancel_style, cancelled=True)
                for f, opts in (cancelled or {}).items() for o in opts]
    missing = [f"{m.field}/{m.option}" for m in planned if (m.field, m.option) not in fp.boxes]
    if missing:
        raise ValueError(f"no box on page {page} for {', '.join(missing)}")
    the_pen = mk.make_pen(pen) if isinstance(pen, str) else pen
    plan = SheetPlan(the_pen, style, planned, None, writeins or {})
    ops = list(degradations or [])
    names = {o["name"] for o in ops}
    rng = np.random.default_rng(seed)
    if "noise_page" in names:
        seed_op = next(o for o in ops if o["name"] == "noise_page")
        return RenderedPage(dg.noise_page(fp.template.image.shape, seed_op["seed"]), None,
                            {}, {}, 0)
    image, marked, cancels, drawn = draw_page(fp, serial, plan, "colour" in names, strays, rng)
    image, h = dg.apply(image, ops, fp.info)
    jpeg = next((o for o in ops if o["name"] == "jpeg"), None)
    if jpeg is not None:
        image = roundtrip_jpeg(image, jpeg["quality"])
    return RenderedPage(image, h, marked, cancels, drawn)


def render_marked_page(spec_path: Path, marks: dict[str, list[str]] | None = None,
                       **kwargs) -> np.ndarray:
    """The image of `render_page(spec_path, marks, **kwargs)` (uint8, grey or RGB)."""
    return render_page(spec_path, marks, **kwargs).image


def serials_for(truth: Truth) -> list[str]:
    """The serials a corpus's sheets carry, in order (for tally reconciliation tests)."""
    return [s.serial for s in truth.sheets]


__all__ = ["FORMATS", "FormContext", "RenderedPage", "find_other_spec", "generate",
           "load_form", "render_marked_page", "render_page", "serials_for"]
