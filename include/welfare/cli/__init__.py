"""The ``welfare`` command.

``commands`` parses the command line (generate, calibrate, run, kpis, report, warehouse, airflow)
and carries each command out; ``runner`` runs the real Airflow DAGs over every complete drop date
with ``airflow dags test``. The load report they print is the ingest's
(``welfare.ingest.report``), which the ingest DAG prints too.
"""

from welfare.cli.commands import main

__all__ = ["main"]
