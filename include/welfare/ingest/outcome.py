"""What became of one file: ``FileResult`` (the audit row's content) and ``FileRejected`` (the
whole file refused, with the rule that refused it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


class FileRejected(Exception):
    """The whole file is refused; ``rule`` names why. The message never quotes a value of the file."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


class ConfigurationError(Exception):
    """A setting of the ingest is not usable (a quarantine threshold that is not a number between 0
    and 1): raised before anything loads."""


@dataclass
class FileResult:
    system: str
    extract: str
    extract_date: str
    file_name: str
    # loaded | rejected | resent | unexpected (in the drop, not in its manifest: not loaded)
    # | duplicate (this date's file, loaded before: nothing recorded) | absent (not in this drop)
    status: str
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_rejected: int = 0
    rows_resent: int = 0
    resent_of: int | None = None
    resends_date: str | None = None    # a re-sent drop: the date of the drop it repeats
    rule: str | None = None            # the rule that rejected the file whole
    quarantined_by_rule: dict[str, int] = field(default_factory=dict)
    threshold_breached: bool = False
    reason: str | None = None
    accepted_by: str | None = None     # an operator accepted this delivery (snapshot_shrink)
    load_id: int | None = None
    duration_s: float = 0.0
    landing_s: float | None = None     # checks, the file's keys and the reading of its chunks
    validation_s: float | None = None  # every rule evaluated, the Great Expectations suite on the results
    publish_s: float | None = None     # ledger, quarantine, typed rows COPYed into raw: one transaction
    docs_s: float | None = None        # the Data Docs pages of this validation (reporting; not in validation_s)

    @property
    def failed(self) -> bool:
        return self.status in ("rejected", "unexpected") or self.threshold_breached

    def as_dict(self) -> dict:
        return asdict(self)
