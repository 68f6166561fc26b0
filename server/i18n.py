"""Interface language: Chinese (zh-CN) by default, English on request (a cookie).

The messages live in gettext catalogues, `server/locale/{zh_CN,en}/LC_MESSAGES/messages.po`,
read with Babel when this module is imported (no compile step, nothing to forget on a fresh
clone). Most message ids are the Chinese text the interface shows (templates write
`{{ _("开始计票") }}`); the errors raised in `tally/` carry an English template and parameters
(`tally.review.errors.ReviewError`) and are translated here, at the server's edge, by `error_text`.

`babel.cfg` tells `pybabel extract` where the marked strings are (`_`, `N_`, `translate`, and
`ReviewError(...)` in tally/review/); `scripts/i18n-update` refreshes the catalogues and a
test fails on any extracted message a catalogue lacks. A message missing from a catalogue
shows as written.

Reasons (why a page is refused, what a review item asks) are stored as English sentences; they
are shown by `reason`, keyed by code and shape (`tally.reasons`), with their parameters. The
meeting page's live refresh reads `shown_result` (notices translated) and its job cards
`shown_job`; a refused form spec is shown problem by problem (`spec_error_text`,
`forms.spec.SpecRuleError` carrying a template like `ReviewError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po
from fastapi import Request
from fastapi.templating import Jinja2Templates

from forms.load import SpecError
from tally.reasons import reason_text
from tally.rules.result import Notice, TallyResult, WarningLine
from tally.rules.warnsummary import line_text

LANG_COOKIE = "scantally_lang"
LANGS = ("zh-CN", "en")
DEFAULT = "zh-CN"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: interface language -> catalogue directory name
CATALOGUE = {"zh-CN": "zh_CN", "en": "en"}


def N_(message: str) -> str:
    """Mark a message for extraction where it is defined; translate it where it is shown."""
    return message


#: messages that reach the templates as data (a stage name, an item kind) and are translated
#: there with `_(value)`: listed so that extraction finds them
DYNAMIC = (
    N_("民主推荐"), N_("谈话推荐"), N_("民主测评"), N_("民意调查"), N_("满意度评议"),
    N_("全体"), N_("未标明类别"),  # bucket labels of tally.rules.result
    N_("未识别表单"),  # the ledger row of pages whose form was not read (tally.ledger)
    # the rates a figure warning names (tally.rules.evaluation / satisfaction)
    N_("优秀率"), N_("称职以上率"), N_("基本称职率"), N_("不称职率"), N_("不了解率"),
    N_("好评率"), N_("差评率"), N_("不满意率"), N_("不认同率"),
)


@dataclass(frozen=True)
class Catalogue:
    """One language's messages: message id -> translation (empty and fuzzy ones left out)."""

    lang: str
    messages: dict[str, str]


@cache
def catalogue(lang: str) -> Catalogue:
    path = LOCALE_DIR / CATALOGUE[lang] / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        po = read_po(f, locale=CATALOGUE[lang])
    return Catalogue(lang, {str(m.id): str(m.string) for m in po
                            if m.id and isinstance(m.id, str) and m.string and not m.fuzzy})


def lang_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, DEFAULT)
    return lang if lang in LANGS else DEFAULT


def translate(message: str, lang: str) -> str:
    return catalogue(lang if lang in LANGS else DEFAULT).messages.get(message, message)


def error_text(exc: BaseException, lang: str) -> str:
    """An error's message in `lang`: translated by its template when it carries one
    (`template` + `params`, as `tally.review.errors.ReviewError`), else as raised."""
    template = getattr(exc, "template", None)
    params = getattr(exc, "params", None)
    if not isinstance(template, str) or not isinstance(params, dict):
        return str(exc)
    # a parameter that is itself a message ("a voter category of …") is translated too
    shown = {k: translate(v, lang) if isinstance(v, str) else v for k, v in params.items()}
    try:
        return translate(template, lang).format(**shown)
    except (KeyError, IndexError, ValueError):  # a translation naming a wrong parameter
        return str(exc)


#: the fixed problems `forms.load` names for a spec without a rule's template
SPEC_PROBLEMS = (
    N_("unknown key; remove it or check its spelling (see `scantally form schema`)"),
    N_("required but missing; add it"),
)


def shown_error_text(exc: BaseException, lang: str) -> str:
    """An error as the console's pages and the CLI show it: `error_text`, and a refused form
    spec problem by problem in `lang` (`spec_error_text`). The JSON API keeps a spec's problems
    as raised (English, with field paths), for the programs that read them."""
    if isinstance(exc.__cause__, SpecError):
        return spec_error_text(exc.__cause__, lang)
    return error_text(exc, lang)


def spec_error_text(exc: SpecError, lang: str) -> str:
    """A refused form spec in `lang`: its source, then each problem with its line and field,
    by the rule's template when it has one (`forms.spec.SpecRuleError`)."""
    lines = [translate(N_("{source}: invalid form spec"), lang).format(source=exc.source)]
    for p in exc.problems:
        message = translate(p.message, lang)
        if p.template is not None:
            try:
                message = translate(p.template, lang).format(**p.params)
            except (KeyError, IndexError, ValueError):
                message = p.message
        where = (translate(N_("line {line}, field '{field}': {message}"), lang) if p.line
                 else translate(N_("field '{field}': {message}"), lang))
        lines.append("  - " + where.format(line=p.line, field=p.field, message=message))
    return "\n".join(lines)


def notice_text(template: str | None, params: dict[str, str | int | float], message: str,
                lang: str) -> str:
    """A tally notice (warning, alarm) in `lang`: by its template when it has one, its text
    parameters translated too when they are messages ("全体"); else its message as recorded."""
    if template is None:
        return translate(message, lang)
    shown = {k: translate(v, lang) if isinstance(v, str) else v for k, v in params.items()}
    try:
        return translate(template, lang).format(**shown)
    except (KeyError, IndexError, ValueError):
        return message


def reason(code: str | None, sentence: str, lang: str) -> str:
    """A page's or review item's reason (`tally.reasons`) in `lang`: by its code and the shape
    of its stored English sentence, with its parameters; the sentence as stored if unknown.
    In English the stored sentence is shown as it is: it is the record, word for word."""
    lang = lang if lang in LANGS else DEFAULT
    if lang == "en" and sentence.strip():
        return sentence
    return reason_text(code, sentence, lambda t: translate(t, lang),
                       "; " if lang == "en" else "；", english=lang == "en")


def summary_text(line: WarningLine, lang: str) -> str:
    """A warning summary line (`tally.rules.warnsummary`) in `lang`: in zh-CN as recorded (the
    reports' words), else by its templates, the spec's names and labels as they are."""
    lang = lang if lang in LANGS else DEFAULT
    if lang == "zh-CN":
        return line.message
    return line_text(line, lambda t: translate(t, lang))


def shown_result(result: TallyResult, lang: str) -> TallyResult:
    """A form's figures as the console's live refresh shows them in `lang`: every notice's
    message, every warning summary line and every reconciliation row's label translated.
    The record is the API's `/api/meetings/{id}/tally` (its sha256 covers the Chinese text)."""
    def shown(n: Notice) -> Notice:
        return n.model_copy(update={"message": notice_text(n.template, n.params, n.message,
                                                           lang)})

    rec = result.reconciliation
    rows = [r.model_copy(update={"label": translate(r.label, lang)}) for r in rec.rows]
    return result.model_copy(update={
        "alarms": [shown(n) for n in result.alarms],
        "warnings": [shown(n) for n in result.warnings],
        "warning_summary": [x.model_copy(update={"message": summary_text(x, lang)})
                            for x in result.warning_summary],
        "reconciliation": rec.model_copy(update={"rows": rows})})


def shown_job(job: dict[str, Any], lang: str) -> dict[str, Any]:
    """A job's view (`server.jobs.JobView` as JSON) with the reasons of its refused and
    to-re-feed pages in `lang` (refeed lines are "<source>: <reason>")."""
    def refeed(line: str) -> str:
        source, sep, why = line.partition(": ")
        shown = reason(None, why, lang) if sep else line
        return f"{source}: {shown}" if sep else reason(None, line, lang)

    return {**job, "refeed": [refeed(x) for x in job.get("refeed", [])],
            "refused": [reason(None, x, lang) for x in job.get("refused", [])]}


def all_text() -> list[str]:
    """Every message id and translation of every catalogue (the web font must cover them)."""
    out: list[str] = []
    for lang in LANGS:
        for msgid, msgstr in catalogue(lang).messages.items():
            out += [msgid, msgstr]
    return out


def install(templates: Jinja2Templates) -> None:
    """Turn on Jinja2's i18n extension with `_()` / `gettext()` translating by the request's
    language (the `lang` every page's context carries)."""
    from jinja2 import pass_context

    @pass_context
    def gettext(context, message: str) -> str:  # type: ignore[no-untyped-def]
        return translate(message, context.get("lang", DEFAULT))

    @pass_context
    def ngettext(context, singular: str, plural: str, n: int) -> str:  # type: ignore[no-untyped-def]
        return translate(singular if n == 1 else plural, context.get("lang", DEFAULT))

    @pass_context
    def notice(context, n) -> str:  # type: ignore[no-untyped-def]
        """`{{ notice(n) }}`: a tally Notice in the page's language."""
        return notice_text(n.template, n.params, n.message, context.get("lang", DEFAULT))

    @pass_context
    def summary_line(context, line) -> str:  # type: ignore[no-untyped-def]
        """`{{ summary_line(line) }}`: a warning summary line in the page's language."""
        return summary_text(line, context.get("lang", DEFAULT))

    @pass_context
    def reason_of(context, code: str | None, sentence: str) -> str:  # type: ignore[no-untyped-def]
        """`{{ reason(p.code, p.reason) }}`: a page's or item's reason in the page's language."""
        return reason(code, sentence or "", context.get("lang", DEFAULT))

    templates.env.globals["notice"] = notice
    templates.env.globals["summary_line"] = summary_line
    templates.env.globals["reason"] = reason_of
    templates.env.add_extension("jinja2.ext.i18n")
    templates.env.install_gettext_callables(gettext, ngettext, newstyle=False)  # type: ignore[attr-defined]
