"""Why a page is not plainly counted, in any language: the reason sentences of the engine, the
intake, ingest, the ledger and the review queue, keyed by a code with parameters.

Every page keeps the English sentence it was given (`Page.reason`, the reading JSON, the log):
that is the record. What people see is `explain(code, sentence)`: the sentence is matched
against the known English shapes (`PATTERNS`, the same wording `omr`, `intake`, `tally.ingest`,
`tally.ledger` and `tally.review` write) and becomes a key of `TEMPLATES` with its parameters
(which corner marks are missing, which page, which serial); a sentence of no known shape falls
back to the generic template of its code (every `omr.reading.ReasonCode`, every ledger and
ingest code has one). A page stored before this module existed is explained the same way.

`TEMPLATES` are English `str.format` templates marked for the server's gettext catalogues
(babel.cfg extracts this file): the console translates them there; the PDF report, which
cannot import the server, has its Chinese wording keyed alike in `tally.report.reasons`.
A parameter named `detail` is itself a sentence and is explained in turn; a review item's
sentence "<page reason>; <what to do>" is explained part by part.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from omr.reading import ReasonCode
from tally.rules.result import N_

#: key -> English template. The keys of `ReasonCode` first (the generic sentence of a code),
#: then the codes of ingest and the ledger, then the shapes `PATTERNS` recognise.
TEMPLATES: dict[str, str] = {
    # omr.reading.ReasonCode
    ReasonCode.DOUBTFUL_MARKS: N_("doubtful marks: a person must look at the boxes"),
    ReasonCode.BLANK: N_("a blank page"),
    ReasonCode.UNKNOWN_FORM: N_("a sheet of a form this meeting does not know"),
    ReasonCode.NOT_READ: N_("the page could not be read; re-scan the sheet"),
    ReasonCode.NO_IMAGE: N_("the file holds no page image"),
    ReasonCode.DECODE_FAILED: N_("the file cannot be decoded as an image; re-scan the sheet"),
    ReasonCode.INTERNAL_ERROR: N_("internal error while reading the page; report it"),
    ReasonCode.WORKER_CRASHED: N_("the reader process crashed on this page; re-feed the sheet"),
    ReasonCode.CARD_TIMING: N_("the card's timing track cannot be read; re-feed the card"),
    ReasonCode.CARD_GRID: N_("the card does not fit the form's grid; re-feed the card"),
    ReasonCode.CARD_STRAY_MARKS: N_("stray marks on the card; check the card"),
    ReasonCode.CARD_CODE_UNREADABLE: N_("the card's printed code cannot be read; re-feed it"),
    ReasonCode.TEST_SHEET: N_("a test-deck sheet fed to an official meeting: never counted"),
    # page statuses (the code of a page stored without one)
    "unreadable": N_("the page could not be read; re-scan the sheet"),
    "review": N_("the reader asked for review"),
    # tally.ingest refusals and tally.ledger codes
    "serial_other_form": N_("serial {serial} was printed on form {printed}, but this is a sheet "
                            "of form {form}: a copied or misprinted sheet; not counted — set it "
                            "aside for the team, or dismiss it with a reason"),
    "serial_other_form.plain": N_("a serial printed for another form of the meeting: not "
                                  "counted — set it aside, or dismiss it with a reason"),
    "unknown_serial": N_("serial {serial} was not printed for this meeting: accept it to count "
                         "it, or dismiss it"),
    "unknown_serial.review": N_("serial {serial} was not printed for this meeting: a forged "
                                "sheet or another meeting's? accept it to count it, or dismiss "
                                "it"),
    "duplicate": N_("the same sheet page as page #{page}: counted once"),
    "refed": N_("re-fed and read as page #{page}"),
    "dismissed": N_("taken out of the count"),
    "confirmed": N_("entered by hand and confirmed"),
    "awaiting_confirmation": N_("entered by hand: a second login must confirm it against the "
                                "image"),
    "review_pending": N_("waiting in the review queue"),
    "blank.no_code": N_("a blank page (no sheet code)"),
    # omr.engine
    "blank.back": N_("a blank back"),
    "blank.no_marks": N_("no marks"),
    "blank.no_boxes": N_("the page has no boxes"),
    "image_too_small": N_("the image is {shape} px: too small or not a page image; re-scan "
                          "the sheet"),
    "qr_unreadable": N_("QR code unreadable (none found, or damaged); check the sheet is one "
                        "of ours and re-scan it"),
    "qr_not_ours": N_("the QR code reads {shown}, which is not a Scantally sheet code"),
    "form_not_loaded": N_("a sheet of form {form}, which is not loaded (loaded: {known}); add "
                          "its form"),
    "form_other_version": N_("a sheet printed from another version of form {form} (layout "
                             "{printed}, loaded {loaded}); load the spec it was printed from"),
    "no_such_page": N_("the code says page {page}, but form {form} has {pages} page(s)"),
    "corner_marks_none": N_("no corner marks found, and {detail}; re-scan the sheet straight "
                            "and whole"),
    "corner_marks_missing": N_("only {found} of {total} corner marks found (missing: "
                               "{missing}), and {detail}; re-scan the sheet straight and whole"),
    "borders_found_some": N_("the box borders were found on {found} of {boxes} boxes"),
    "borders_disagree": N_("the box borders found do not agree on one map"),
    "borders_found_share": N_("the box borders were found on only {share} of the boxes"),
    "off_scan": N_("{boxes} box(es) lie off the scan (the page is partly outside the scanned "
                   "area); re-scan the sheet whole"),
    "boxes_misplaced": N_("the printed boxes are not where the corner marks put them (sheet "
                          "warped, or printed at another size); re-scan it flat"),
    "registration_error": N_("registration error {error_mm} mm over the {limit_mm} mm limit "
                             "(sheet warped, or another print size); re-scan it flat"),
    "foreign_page": N_("layout page {page} has no corner marks and QR code (a foreign form's "
                       "page); load it as a foreign form"),
    "doubtful_boxes": N_("{n} doubtful box(es): {boxes}"),
    # the corner marks `omr.register.CORNER_NAMES` names (the `missing` parameter)
    "corner.top-left": N_("top-left"),
    "corner.top-right": N_("top-right"),
    "corner.bottom-right": N_("bottom-right"),
    "corner.bottom-left": N_("bottom-left"),
    # tally.ingest: a page's outcome as the batch reports it
    "ingest.refeed": N_("re-feed this sheet"),
    "ingest.not_ours": N_("not a sheet of this meeting ({detail}); take it out of the stack or "
                          "re-feed it"),
    "ingest.reread": N_("sheet {serial} page {page} was already read (page #{first}, "
                        "{source}); kept as a duplicate, not counted again"),
    "ingest.same_ink": N_("the same sheet as page #{first} ({source}): the same ink, re-scanned "
                          "(no serial on the sheet); kept as a duplicate, not counted again"),
    "ingest.blank": N_("a blank page (no sheet code); not counted"),
    "ingest.unknown_serial": N_("serial {serial} was not printed for this meeting (a forged "
                                "sheet or another meeting's?); held for review, not counted "
                                "until a reviewer accepts it"),
    # tally.review: what to do, after the page's reason
    "review.dismiss": N_("dismiss it with a reason"),
    "review.refed": N_("re-fed and read since"),
    "review.entered_confirmed": N_("entered by {entered_by}, confirmed by {confirmed_by}"),
    "review.entered": N_("entered by hand by {entered_by}: a second login must confirm the "
                         "entry against the image"),
    "review.refeed": N_("re-feed the sheet, enter its marks by hand, or dismiss the page"),
    "review.pages_missing": N_("page(s) {pages} of sheet {serial} were not read: re-feed them, "
                               "or accept / void / dismiss the ballot"),
    "review.doubtful_mark": N_("doubtful mark: is the box marked?"),
    "review.writein_no_name": N_("a marked write-in line: type the name from the image"),
    "review.writein_ink": N_("ink on a write-in line with no mark: a name to count?"),
}

_Q = r"'[^']*'|\"[^\"]*\""  # a repr()'d string
#: (key, the English shape it recognises): a full match gives the key's parameters
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((k, re.compile(p, re.S)) for k, p in (
    ("serial_other_form", rf"serial (?P<serial>\S+) was printed on form (?P<printed>{_Q}), but "
                          rf"this is a sheet of form (?P<form>{_Q}): a copied or misprinted "
                          r"sheet; not counted — set it aside for the team, or dismiss it with "
                          r"a reason"),
    ("unknown_serial", r"serial (?P<serial>\S+) was not printed for this meeting: accept it to "
                       r"count it, or dismiss it"),
    ("unknown_serial.review", r"serial (?P<serial>\S+) was not printed for this meeting: a "
                              r"forged sheet or another meeting's\? accept it to count it, or "
                              r"dismiss it"),
    ("duplicate", r"the same sheet page as page #(?P<page>\d+): counted once"),
    ("refed", r"re-fed and read as page #(?P<page>\d+)"),
    ("dismissed", r"taken out of the count"),
    ("confirmed", r"entered by hand and confirmed"),
    ("awaiting_confirmation", r"entered by hand: a second login must confirm it against the "
                              r"image"),
    ("review_pending", r"waiting in the review queue"),
    ("blank.no_code", r"a blank page \(no sheet code\)"),
    ("blank.back", r"blank back"),
    ("blank.no_marks", r"no marks"),
    ("blank.no_boxes", r"page has no boxes"),
    ("image_too_small", r"image is (?P<shape>\S+) px: too small or not a page image; re-scan "
                        r"the sheet"),
    ("qr_unreadable", r"QR code unreadable \(none found, or damaged\); check the sheet is one "
                      r"of ours and re-scan it"),
    ("qr_not_ours", rf"the QR code reads (?P<shown>{_Q}), which is not a Scantally sheet code"),
    ("form_not_loaded", rf"sheet of form (?P<form>{_Q}), which is not loaded \(loaded: "
                        r"(?P<known>.*)\); add its --form"),
    ("form_other_version", rf"sheet printed from another version of form (?P<form>{_Q}) "
                           r"\(layout (?P<printed>\w+), loaded (?P<loaded>\w+)\); load the spec "
                           r"it was printed from"),
    ("no_such_page", rf"the code says page (?P<page>\d+), but form (?P<form>{_Q}) has "
                     r"(?P<pages>\d+) page\(s\)"),
    ("corner_marks_none", r"no corner marks found, and (?P<detail>.+); re-scan the sheet "
                          r"straight and whole"),
    ("corner_marks_missing", r"only (?P<found>\d+) of (?P<total>\d+) corner marks found "
                             r"\(missing: (?P<missing>[^)]*)\), and (?P<detail>.+); re-scan the "
                             r"sheet straight and whole"),
    ("borders_found_some", r"the box borders were found on (?P<found>\d+) of (?P<boxes>\d+) "
                           r"boxes"),
    ("borders_disagree", r"the box borders found do not agree on one map"),
    ("borders_found_share", r"the box borders were found on only (?P<share>\d+%) of the boxes"),
    ("off_scan", r"(?P<boxes>\d+) box\(es\) lie off the scan \(the page is partly outside the "
                 r"scanned area\); re-scan the sheet whole"),
    ("boxes_misplaced", r"the printed boxes are not where the corner marks put them \(sheet "
                        r"warped, or printed at another size\); re-scan it flat"),
    ("registration_error", r"registration error (?P<error_mm>[\d.]+) mm over the "
                           r"(?P<limit_mm>[\d.]+) mm limit \(.*\); re-scan it flat"),
    ("foreign_page", r"layout page (?P<page>\d+) has no corner marks and QR code \(a foreign "
                     r"form's page\); load it as a foreign form"),
    ("doubtful_boxes", r"(?P<n>\d+) doubtful box\(es\): (?P<boxes>.+)"),
    ("ingest.refeed", r"re-feed this sheet"),
    ("ingest.not_ours", r"not a sheet of this meeting \((?P<detail>.*)\); take it out of the "
                        r"stack or re-feed it"),
    ("ingest.reread", r"sheet (?P<serial>\S+) page (?P<page>\d+) was already read \(page "
                      r"#(?P<first>\d+), (?P<source>.*)\); kept as a duplicate, not counted "
                      r"again"),
    ("ingest.same_ink", r"the same sheet as page #(?P<first>\d+) \((?P<source>.*)\): the same "
                        r"ink, re-scanned \(no serial on the sheet\); kept as a duplicate, not "
                        r"counted again"),
    ("ingest.blank", r"a blank page \(no sheet code\); not counted"),
    ("ingest.unknown_serial", r"serial (?P<serial>\S+) was not printed for this meeting \(a "
                              r"forged sheet or another meeting's\?\); held for review, not "
                              r"counted until a reviewer accepts it"),
    ("review.dismiss", r"dismiss it with a reason"),
    ("review.refed", r"re-fed and read since"),
    ("review.entered_confirmed", r"entered by (?P<entered_by>.+), confirmed by "
                                 r"(?P<confirmed_by>.+)"),
    ("review.entered", r"entered by hand by (?P<entered_by>.+): a second login must confirm the "
                       r"entry against the image"),
    ("review.refeed", r"re-feed the sheet, enter its marks by hand, or dismiss the page"),
    ("review.pages_missing", r"page\(s\) (?P<pages>[\d, ]+) of sheet (?P<serial>\S+) were not "
                             r"read: re-feed them, or accept / void / dismiss the ballot"),
    ("review.doubtful_mark", r"doubtful mark: is the box marked\?"),
    ("review.writein_no_name", r"a marked write-in line: type the name from the image"),
    ("review.writein_ink", r"ink on a write-in line with no mark: a name to count\?"),
    ("review", r"the reader asked for review"),
))

#: the parameters that are sentences themselves, explained in turn
SENTENCE_PARAMS = frozenset({"detail"})
#: the parameters that list names of a kind (key prefix in `TEMPLATES`), each translated
LIST_PARAMS = {"missing": "corner."}
#: how the parts of "<page reason>; <what to do>" are joined back, per language of a template
PART_JOIN = "; "


@dataclass(frozen=True)
class Explained:
    """A reason as a key of `TEMPLATES` and its parameters (a sentence parameter explained)."""

    key: str
    params: dict[str, str | Explained] = field(default_factory=dict)
    #: the code's generic sentence: the stored sentence (`sentence`) had no known shape
    generic: bool = False
    sentence: str = ""


@dataclass(frozen=True)
class Parts:
    """A sentence of several reasons joined by "; " (a review item's reason, its advice)."""

    parts: tuple[Explained | str, ...]


def _match(sentence: str) -> Explained | None:
    for key, pattern in PATTERNS:
        m = pattern.fullmatch(sentence)
        if m:
            params: dict[str, str | Explained] = {}
            for name, value in m.groupdict().items():
                inner = _match(value) if name in SENTENCE_PARAMS else None
                params[name] = inner if inner is not None else value.strip("'\"")
            return Explained(key, params)
    return None


def explain(code: str | None, sentence: str) -> Explained | Parts | None:
    """The reason `sentence` (stored in English) keyed, or its `code`'s generic reason when the
    sentence has no known shape; None when neither is known (show the sentence as it is)."""
    sentence = sentence.strip()
    hit = _match(sentence) if sentence else None
    if hit is not None:
        return hit
    # "<reason>; <advice>": the longest known tail first, the head explained in turn
    cut = sentence.rfind("; ")
    while cut > 0:
        tail = _match(sentence[cut + 2:])
        if tail is not None:
            head = explain(code, sentence[:cut])
            head_parts = head.parts if isinstance(head, Parts) else (
                (head,) if head is not None else (sentence[:cut],))
            return Parts((*head_parts, tail))
        cut = sentence.rfind("; ", 0, cut)
    if code and code in TEMPLATES:
        return Explained(code, generic=True, sentence=sentence)
    return None


def render(reason: Explained | Parts | None, sentence: str, lookup: Callable[[str], str],
           join: str = PART_JOIN, *, english: bool = False) -> str:
    """`reason` in words: each template through `lookup` (English template -> the language's
    template; the identity gives English), its parameters filled in; `sentence` when None. In
    English (`english`) a sentence of no known shape is shown as stored, not by its code's
    generic sentence."""
    if reason is None:
        return sentence
    if isinstance(reason, Parts):
        return join.join(p if isinstance(p, str) else render(p, "", lookup, join, english=english)
                         for p in reason.parts)
    if reason.generic and english and reason.sentence:
        return reason.sentence
    template = TEMPLATES[reason.key]
    shown = {k: render(v, "", lookup, join, english=english) if isinstance(v, Explained)
             else _listed(k, v, lookup) for k, v in reason.params.items()}
    try:
        return lookup(template).format(**shown)
    except (KeyError, IndexError, ValueError):  # a translation naming a wrong parameter
        return template.format(**shown) if shown.keys() >= set(_fields(template)) else sentence


def _listed(name: str, value: str, lookup: Callable[[str], str]) -> str:
    prefix = LIST_PARAMS.get(name)
    if prefix is None:
        return value
    names = [TEMPLATES.get(prefix + v.strip()) for v in value.split(",")]
    if not all(names):
        return value
    shown = [lookup(n) for n in names if n]
    return ("、" if shown != [n for n in names if n] else ", ").join(shown)


def _fields(template: str) -> list[str]:
    return re.findall(r"{(\w+)}", template)


def reason_text(code: str | None, sentence: str, lookup: Callable[[str], str],
                join: str = PART_JOIN, *, english: bool = False) -> str:
    """A reason in words for people: `explain` then `render`."""
    return render(explain(code, sentence), sentence, lookup, join, english=english)
