"""Claims: what a chapter asserts about its own glued numbers, stated in code.

Each chapter module defines `CLAIMS`, a list of `Claim`s over the values the
chapter glues. The chapter shows them to the reader (`claims_table`), and
`tests/test_claims.py` asserts them on the notebook executed at book parameters.

A chapter module may also define `HEADLINES`: its main results beside the
paper's, which the closing page gathers into one table (`compgen.book sync`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Claim:
    name: str  # short id, e.g. "factorised_composes"
    statement: str  # what a reader should take away, in words
    uses: tuple[str, ...]  # the glued names the check reads
    check: Callable[[Mapping[str, Any]], bool]

    def evaluate(self, glued: Mapping[str, Any]) -> tuple[bool, str]:
        """(holds, detail); detail lists the values used, or what is missing."""
        missing = [k for k in self.uses if k not in glued]
        if missing:
            return False, f"not glued: {', '.join(missing)}"
        values = ", ".join(f"{k} = {_fmt(glued[k])}" for k in self.uses)
        return bool(self.check(glued)), values


@dataclass(frozen=True)
class Headline:
    """One row of the book's closing table: a finding, the paper's, and ours.

    `ours` is a template over the chapter's glued names, e.g.
    "{ood_low_coverage:.2f} → {ood_high_coverage:.2f}"; the page fills it from
    the chapter's own execution, so no number of ours is ever typed. `paper` is
    the paper's result in words or numbers (quoted from the paper), `source` its
    key in book/references.bib.
    """

    finding: str
    paper: str
    ours: str
    source: str = ""
    # The chapter's failure measure as the failing model grows, a template like
    # `ours`: "{acc_small:.2f} → {acc_large:.2f} (10x the weights)". The closing
    # page shows it in its scaling column; "" for rows that do not vary scale.
    scaling: str = ""

    def __post_init__(self):
        if not self.keys():
            raise ValueError(
                f"Headline {self.finding!r}: `ours` must name at least one glued "
                "value, like '{held_out_r2:.2f}'"
            )
        if self.scaling and not _fields(self.scaling):
            raise ValueError(
                f"Headline {self.finding!r}: `scaling` must name glued values, "
                "like '{acc_small:.2f} → {acc_large:.2f}'"
            )

    def keys(self) -> list[str]:
        """The glued names `ours` and `scaling` use, in order."""
        return _fields(self.ours) + _fields(self.scaling)

    def myst(self, notebook: str, template: str | None = None) -> str:
        """`ours` (or another template, e.g. `scaling`) as MyST, each field a glue
        role reading `notebook` (e.g. "/chapters/coverage.ipynb")."""
        import string

        out = []
        template = self.ours if template is None else template
        for text, field, spec, _ in string.Formatter().parse(template):
            out.append(text)
            if field:
                # always a format: MyST-NB splits the role at its last colon
                out.append(f"{{glue:text}}`{notebook}::{field}:{spec or 's'}`")
        return "".join(out)

    def render(self, glued: Mapping[str, Any]) -> str:
        """`ours` filled from a chapter's glued values (missing ones say so)."""
        missing = [k for k in _fields(self.ours) if k not in glued]
        if missing:
            return f"(not glued: {', '.join(missing)})"
        return self.ours.format(**{k: glued[k] for k in _fields(self.ours)})


def _fields(template: str) -> list[str]:
    import string

    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else repr(v)


def evaluate_claims(claims: Sequence[Claim], glued: Mapping[str, Any]) -> list[dict]:
    """One row per claim: name, statement, holds, detail."""
    rows = []
    for c in claims:
        holds, detail = c.evaluate(glued)
        rows.append(
            {"name": c.name, "statement": c.statement, "holds": holds, "detail": detail}
        )
    return rows


def claims_table(claims: Sequence[Claim], glued: Mapping[str, Any] | None = None):
    """An HTML table of the chapter's claims and whether this run supports them.

    Without `glued`, it uses what this kernel has glued so far.
    """
    from html import escape

    from IPython.display import HTML

    from .core.notebook import GLUED

    rows = evaluate_claims(claims, GLUED if glued is None else glued)
    body = "".join(
        f"<tr><td>{escape(r['statement'])}</td><td><code>{escape(r['detail'])}</code>"
        f"</td><td>{'holds' if r['holds'] else 'does not hold in this run'}</td></tr>"
        for r in rows
    )
    return HTML(
        "<table><thead><tr><th>claim</th><th>measured</th><th>this run</th></tr>"
        f"</thead><tbody>{body}</tbody></table>"
    )
