"""The warehouse database itself.

``embedded`` initialises and runs the PostgreSQL cluster the project starts from the server
binaries on the machine (``$WELFARE_HOME/pg``); ``ddl`` creates and migrates the schemas the
ingest owns (``util`` with ``util.sql``'s date and id functions, ``raw`` partitioned by load,
``landing`` for rule results, ``audit``); ``sql`` holds identifier and literal quoting and the
connection; ``wap`` writes, audits and publishes the dbt build (two generations, the readers' views of
the published one). dbt owns everything downstream of ``raw`` but those views.
"""
