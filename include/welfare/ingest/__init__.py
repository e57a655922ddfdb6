"""The ingest: one delivered file carried from its drop folder into the warehouse.

``drops`` finds complete drops and checks their manifests; ``readers`` opens only regular files,
checks a file's bytes and header and reads it as a stream of chunks; ``load`` runs one file
through verification, validation (``welfare.validation``) and publishing, and decides its outcome
(``outcome``: loaded, rejected, re-sent, unexpected, already loaded, absent); ``publish`` checks
the chunks and writes the ledger, the quarantine and the typed raw partition in one transaction;
``audit`` records the file's audit row, keeps a rejected file with its reason and records an
operator's acceptance; ``report`` reads the audit back as the load report a person reads.
Importing this package is light: Airflow parses the DAG files that import it.
"""

from welfare.ingest.drops import MANIFEST, complete_drop_dates, drop_complete, drop_folder, read_manifest
from welfare.ingest.load import DEFAULT_QUARANTINE_THRESHOLD, check_configuration, ingest_extract, threshold_for
from welfare.ingest.outcome import ConfigurationError, FileRejected, FileResult

__all__ = ["DEFAULT_QUARANTINE_THRESHOLD", "MANIFEST", "ConfigurationError", "FileRejected", "FileResult",
           "check_configuration", "complete_drop_dates", "drop_complete", "drop_folder", "ingest_extract",
           "read_manifest", "threshold_for"]
