"""Claims: what a chapter asserts about its own glued numbers, stated in code.

Each chapter module defines `CLAIMS`, a list of `Claim`s over the values the
chapter glues. The chapter shows them to the reader (`claims_table`), and
`tests/test_claims.py` asserts them on the notebook executed at book parameters.
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
