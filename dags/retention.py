"""
### welfare_retention: the PDPA retention purge

Runs daily at 04:00 Asia/Bangkok, after the night's loads and the warehouse build. It purges what
the warehouse no longer needs and records each object purged, with the reason, in
`audit.retention_purge`. It never purges what a current state, a dbt snapshot or an incremental
model still reads. The rules are in `include/welfare/retention.py`; the categories and periods are
listed below.

**If you are paged**: open the `purge` log. A `lock timeout` means that a load held
`audit.load_ledger` for more than 15 minutes, or that a dbt build held a raw table for more than a
minute. Airflow retries the purge, and a rerun is safe, because whatever was purged is recorded
and is not purged twice. `audit.retention_purge is missing` means the warehouse was set up by an
older version: run `welfare warehouse setup`. A bad period (`WELFARE_RETENTION_*_DAYS` that is
not a whole number of at least 1) fails the run before anything is purged. To see what a run
would purge, without purging it, call `welfare.retention.purge(target, dry_run=True)`.
"""

from welfare.orchestration.dags import retention_dag

dag = retention_dag(doc_md=__doc__)
