"""Airflow: the DAGs and what their tasks do.

``dags`` is the factory the thin files under ``dags/`` call (one ingest DAG per source system,
the warehouse DAG that runs dbt); ``assets`` names the raw tables as Airflow Assets, defined once
for producers and consumer; ``tasks`` is the task logic (wait for a drop, load an extract, run
dbt), importable and tested without a scheduler.
"""
