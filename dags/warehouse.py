"""
### welfare_warehouse — build the linked central welfare warehouse (dbt)

Runs `dbt build` (models, snapshots, tests) over the raw schema whenever an
ingest DAG has loaded a raw table (Airflow Assets `welfare.raw.*`). The marts
it builds — above all `marts.kpi_values`, every strategy indicator for the
province and its 15 districts by fiscal year — are what the BI tools read.
The snapshots (`snapshots.snp_*`) record each night's state of every
snapshot-kind registry (SCD type 2). Then `dbt_docs` writes the dbt docs
(lineage from each dashboard and indicator back to its source extracts)
under `$WELFARE_HOME/dbt/target/index.html`.

**If you are paged**: open the `dbt_build` log; dbt names the failing model or
test. A failing test means the data broke a promise of the warehouse: look at
the rows it returns (`dbt test --select <test> --store-failures`) before
re-running. The marts keep their previous build until a build succeeds.
`dbt runs without the pseudonym key`: the worker has neither `WELFARE_PSEUDONYM_KEY` nor
`$WELFARE_HOME/secrets/pseudonym.key`; restore the key from the secret store (a new key would
change every person_key: that is `welfare rotate-key`). `permission denied`: the connection
`welfare_transformer` is not the transformer role, or `welfare warehouse setup` has not run.
"""

from welfare.orchestration.dags import warehouse_dag

dag = warehouse_dag(doc_md=__doc__)
