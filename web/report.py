"""``ledger report --html``: the programme's figures and charts in one self-contained HTML file
(inline SVG and styles, no external asset), from the same templates as the programme page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from ledger.domain.catalog import Catalog
from ledger.interface.charts import stylesheet
from ledger.projections.summary import Summary
from ledger.words import i18n
from web.pages import Templates

STATIC = Path(__file__).parent / "static"


def report_html(
    total: Summary,
    engagements: dict[str, Summary],
    catalog: Catalog,
    as_of: datetime,
    language: str = i18n.DEFAULT,
) -> str:
    """The report, rendered in ``language``; times in UTC."""
    context: dict[str, Any] = {
        "total": total,
        "engagements": engagements,
        "engagement_name": catalog.engagement_name,
        "fmt": i18n.Formats(language, "UTC"),
        "lang": language,
        "as_of": as_of,
        "styles": (STATIC / "style.css").read_text() + "\n" + stylesheet(),
    }
    return Templates().render(language, "report.html", context)
