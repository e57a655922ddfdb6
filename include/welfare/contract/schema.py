"""The source-extract contract (sources.yml) and the province's areas, as typed objects.

The project carries its own copy of the contracts under ``welfare/contract/files``;
nothing at run time reads the shared folder they came from.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import yaml

CONTRACT_PACKAGE = "welfare.contract.files"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    header: str | None = None
    values: tuple = ()
    separator: str | None = None
    note: str | None = None

    @property
    def is_national_id(self) -> bool:
        """True when the column holds a 13-digit national id (เลขประจำตัวประชาชน).

        The rule: a ``str`` column named ``national_id`` or ending in ``_national_id``
        (``bmn_households.head_national_id``). These are the columns sources.yml's
        ``national_id:`` definition (13 digits, check digit 13) applies to.
        """
        return self.type == "str" and (self.name == "national_id" or self.name.endswith("_national_id"))


@dataclass(frozen=True)
class Extract:
    system: str
    name: str
    file: str
    kind: str  # snapshot | increment
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    format: str  # csv | jsonl
    encoding: str
    dates: str  # be | iso
    delimiter: str = ","
    description: str = ""

    @property
    def qualified_name(self) -> str:
        return f"{self.system}__{self.name}"

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.qualified_name} has no column {name!r}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def national_id_columns(self) -> tuple[str, ...]:
        """The names of the columns that hold national ids (``Column.is_national_id``), in contract order."""
        return tuple(c.name for c in self.columns if c.is_national_id)

    @property
    def holds_personal_data(self) -> bool:
        """True for an extract about persons (it carries a national id): its values are never quoted in
        a rejection reason, a quarantine message or a log line (PDPA)."""
        return bool(self.national_id_columns)

    @property
    def header_map(self) -> dict[str, str]:
        """Delivered header label -> contract column name."""
        return {(c.header or c.name): c.name for c in self.columns}


@dataclass(frozen=True)
class System:
    name: str
    title: str
    format: str
    encoding: str
    dates: str
    delimiter: str
    extracts: dict[str, Extract] = field(default_factory=dict)


@dataclass(frozen=True)
class Area:
    district_code: str
    district_name_th: str
    district_name_en: str
    subdistrict_code: str
    subdistrict_name_th: str
    subdistrict_name_en: str
    zip_code: str


def _read_text(name: str) -> str:
    return resources.files(CONTRACT_PACKAGE).joinpath(name).read_text(encoding="utf-8")


@cache
def systems() -> dict[str, System]:
    raw = yaml.safe_load(_read_text("sources.yml"))["systems"]
    out: dict[str, System] = {}
    for sys_name, sys_def in raw.items():
        extracts = {}
        for ext_name, ext_def in sys_def["extracts"].items():
            cols = tuple(
                Column(
                    name=c["name"],
                    type=c["type"],
                    required=bool(c.get("required", False)),
                    header=c.get("header"),
                    values=tuple(c.get("values", ())),
                    separator=c.get("separator"),
                    note=c.get("note"),
                )
                for c in ext_def["columns"]
            )
            extracts[ext_name] = Extract(
                system=sys_name,
                name=ext_name,
                file=ext_def["file"],
                kind=ext_def["kind"],
                key=tuple(ext_def["key"]),
                columns=cols,
                format=sys_def["format"],
                encoding=sys_def["encoding"],
                dates=sys_def["dates"],
                delimiter=sys_def.get("delimiter", ","),
                description=" ".join(str(ext_def.get("description", "")).split()),
            )
        out[sys_name] = System(
            name=sys_name,
            title=sys_def["title"],
            format=sys_def["format"],
            encoding=sys_def["encoding"],
            dates=sys_def["dates"],
            delimiter=sys_def.get("delimiter", ","),
            extracts=extracts,
        )
    return out


def extract(system: str, name: str) -> Extract:
    try:
        return systems()[system].extracts[name]
    except KeyError:
        raise KeyError(f"no extract {system}.{name} in the contract") from None


@cache
def areas() -> tuple[Area, ...]:
    rows = csv.DictReader(_read_text("areas.csv").splitlines())
    return tuple(
        Area(
            district_code=r["district_code"],
            district_name_th=r["district_name_th"],
            district_name_en=r["district_name_en"],
            subdistrict_code=r["subdistrict_code"],
            subdistrict_name_th=r["subdistrict_name_th"],
            subdistrict_name_en=r["subdistrict_name_en"],
            zip_code=r["zip_code"],
        )
        for r in rows
    )


@cache
def district_codes() -> tuple[str, ...]:
    return tuple(sorted({a.district_code for a in areas()}))


@cache
def subdistrict_codes() -> tuple[str, ...]:
    return tuple(sorted(a.subdistrict_code for a in areas()))
