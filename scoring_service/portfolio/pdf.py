"""HTML to an A4 PDF (WeasyPrint), for the portfolio report and decision explanations.

The HTML pages are self-contained (inline CSS and SVG, no external URLs); their print stylesheet sets
A4 pages (the loan table on landscape pages, every column kept). Chinese text needs a CJK font on the
host: ``make test`` installs Debian's fonts-noto-cjk, which fontconfig finds as "Noto Sans CJK SC"
(named in the stylesheets). No URL is ever fetched: a fetcher that refuses everything is passed.
"""

from __future__ import annotations

from typing import Any, NoReturn

CONTENT_TYPE = "application/pdf"


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise ValueError(f"external resource refused: {url[:80]}")


def html_to_pdf(html: str) -> bytes:
    """The page as PDF bytes (A4 unless the page's @page rules say otherwise)."""
    from weasyprint import HTML  # imported late: it loads Pango at import time

    data: bytes = HTML(string=html, url_fetcher=_no_fetch).write_pdf()
    return data


def page_count(pdf: bytes) -> int:
    """Pages of a PDF (for tests and the CLI summary)."""
    import io

    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)
