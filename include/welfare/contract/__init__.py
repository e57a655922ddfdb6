"""The contract: what the three source systems deliver, as typed objects.

``schema`` reads the project's own copy of ``sources.yml`` (systems, extracts, columns, keys,
encodings, date formats) and ``areas.csv`` (the province's 15 districts and 130 subdistricts);
``thai`` holds Thai dates (Buddhist-Era day/month/year, fiscal years) and national ids (the check
digit); ``files/`` is the packaged copy of the contract files, ``kpis.md`` among them. Every other
room builds on this one, and this one imports no other room.
"""

from welfare.contract.schema import (
    CONTRACT_PACKAGE,
    Area,
    Column,
    Extract,
    System,
    areas,
    district_codes,
    extract,
    subdistrict_codes,
    systems,
)

__all__ = ["CONTRACT_PACKAGE", "Area", "Column", "Extract", "System", "areas", "district_codes", "extract",
           "subdistrict_codes", "systems"]
