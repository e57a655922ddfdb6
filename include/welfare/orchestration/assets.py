"""Airflow Assets: defined once, imported by the ingest DAGs (producers) and the warehouse DAG."""

from __future__ import annotations

from welfare import contract


def raw_asset_name(system: str, extract: str) -> str:
    return f"welfare.raw.{system}__{extract}"


def raw_assets(system: str | None = None) -> dict[tuple[str, str], object]:
    from airflow.sdk import Asset

    out = {}
    for sys_name, sys_def in contract.systems().items():
        if system and sys_name != system:
            continue
        for ext in sys_def.extracts:
            out[(sys_name, ext)] = Asset(
                name=raw_asset_name(sys_name, ext),
                uri=f"postgres://warehouse:5432/welfare/raw/{sys_name}__{ext}",
                group="welfare-raw",
            )
    return out
