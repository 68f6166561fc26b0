"""The one error of review: a decision (or a crop, a hand entry) that cannot be made."""

from __future__ import annotations


class ReviewError(ValueError):
    """A decision that cannot be made; the message says why and what to do instead.

    `template` (English, `str.format` style) is also the message id the server translates by
    (server/i18n.py, extracted by `pybabel extract -k ReviewError`), `params` fill it in."""

    def __init__(self, template: str, **params: object) -> None:
        self.template = template
        self.params = params
        super().__init__(template.format(**params) if params else template)
