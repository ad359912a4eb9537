"""What a run publishes in the Prefect dashboard: a table with one row per source and a short
markdown summary linking to the search page for what it indexed."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from newsdesk.ingest import RunStats
from newsdesk.models import RunSummary, Status

_LINKS = 10


def artifact_key(flow: str, scope: str) -> str:
    """Keys allow lowercase letters, digits and dashes; one key per flow and group keeps the
    dashboard's artifact history per deployment."""
    raw = f"newsdesk-{flow}-{scope}".lower()
    return "".join(c if c.isalnum() else "-" for c in raw).strip("-")


def summary_markdown(
    title: str, summary: RunSummary, stats: RunStats, search_url: str | None
) -> str:
    lines = [
        f"# {title}",
        "",
        f"- sources: **{len(stats.sources)}** ({summary.feeds_failed} feed(s) failed)",
        f"- entries found: **{summary.entries_found}**, fetched: **{summary.fetched}**",
        f"- indexed: **{summary.indexed}**, skipped: **{summary.skipped}**, "
        f"failed: **{summary.failed}**",
    ]
    indexed = [o for o in summary.outcomes if o.status is Status.INDEXED]
    if indexed:
        lines += ["", "## Indexed", ""]
        for outcome in indexed[:_LINKS]:
            lines.append(f"- {_link(outcome.url, outcome.article_id, search_url)}")
        if summary.indexed > _LINKS:
            more = f"{summary.indexed - _LINKS} more"
            if search_url:
                sources = sorted({o.source for o in indexed if o.source})
                query = urlencode({"source": sources[0]}) if len(sources) == 1 else ""
                more = f"[{more}]({search_url.rstrip('/')}/?{query})"
            lines.append(f"- … {more}")
    failures = summary.failures
    if failures:
        lines += ["", "## Failed", ""]
        for outcome in failures[:_LINKS]:
            lines.append(f"- `{outcome.stage}` {outcome.url}: {outcome.reason}")
    return "\n".join(lines) + "\n"


def _link(url: str, doc_id: str | None, search_url: str | None) -> str:
    if search_url and doc_id:
        return f"[{url}]({search_url.rstrip('/')}/view/{quote(doc_id)})"
    return url


def publish_run_artifacts(
    flow: str,
    scope: str,
    summary: RunSummary,
    stats: RunStats,
    *,
    search_url: str | None = None,
) -> None:
    title = f"{flow} run ({scope})"
    create_table_artifact(
        key=artifact_key(flow, f"{scope}-sources"),
        table=stats.rows(),
        description=f"{title}: polled, new, fetched, indexed, duplicates, failed per source",
    )
    create_markdown_artifact(
        key=artifact_key(flow, f"{scope}-summary"),
        markdown=summary_markdown(title, summary, stats, search_url),
        description=f"{title}: summary",
    )
