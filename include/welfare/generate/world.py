"""The province's registries as they evolve from one nightly drop to the next.

Each registry is a function of (seed, scale, drop index): deterministic, and
each drop is derived from the previous one by the changes real systems make
(new records, corrections, revocations, deletions).
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cache

from welfare import contract
from welfare.generate.people import ORG_PREFIXES, date_between, national_id
from welfare.thai import fiscal_year_of

SECTORS = ["COMMUNITY", "CIVIL_SOCIETY", "PRIVATE", "GOVERNMENT", "ACADEMIC", "RELIGIOUS"]
SECTOR_WEIGHTS = [45, 20, 10, 12, 5, 8]
HISTORY_START = date(2012, 1, 1)


def rng_for(seed: int, *parts) -> random.Random:
    key = "|".join(str(p) for p in (seed, *parts))
    return random.Random(zlib.crc32(key.encode("utf-8")) * 1_000_003 + seed)


def subdistrict_weights() -> tuple[list[str], list[float]]:
    """Subdistricts weighted so Mueang holds about a quarter of the province."""
    codes, weights = [], []
    per_district: dict[str, int] = {}
    for a in contract.areas():
        per_district[a.district_code] = per_district.get(a.district_code, 0) + 1
    for a in contract.areas():
        share = 0.24 if a.district_code == "6001" else 0.76 / 14
        codes.append(a.subdistrict_code)
        weights.append(share / per_district[a.district_code])
    return codes, weights


@dataclass
class Organization:
    org_id: str
    name: str
    sector: str
    subdistrict_code: str
    joined_network_on: date | None = None
    left_network_on: date | None = None
    certification: str | None = None
    certified_on: date | None = None
    certification_revoked_on: date | None = None
    quality_assessed_fy: int | None = None
    quality_passed: bool | None = None

    def row(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Volunteer:
    volunteer_id: str
    national_id: str
    subdistrict_code: str
    registered_on: date
    left_on: date | None = None

    def row(self) -> dict:
        return dict(self.__dict__)


@dataclass
class World:
    seed: int
    scale: float
    drops: list[date]
    organizations: list[list[Organization]] = field(default_factory=list)  # per drop
    volunteers: list[list[Volunteer]] = field(default_factory=list)


def _new_org(rng: random.Random, idx: int, as_of: date, codes, weights) -> Organization:
    sub = rng.choices(codes, weights)[0]
    sector = rng.choices(SECTORS, SECTOR_WEIGHTS)[0]
    org = Organization(
        org_id=f"ORG{idx:05d}",
        name=f"{rng.choice(ORG_PREFIXES)}ตำบล{_sub_name(sub)}",
        sector=sector,
        subdistrict_code=sub,
    )
    if rng.random() < 0.75:
        org.joined_network_on = date_between(rng, HISTORY_START, as_of)
        if rng.random() < 0.12:
            org.left_network_on = date_between(rng, org.joined_network_on + timedelta(days=30), as_of)
            if org.left_network_on >= as_of:
                org.left_network_on = None
        if rng.random() < 0.45:
            org.quality_assessed_fy = rng.randint(2560, fiscal_year_of(as_of))
            org.quality_passed = rng.random() < 0.7
    if rng.random() < 0.35:
        org.certification = rng.choice(("PUBLIC_BENEFIT", "COMMUNITY_WELFARE"))
        org.certified_on = date_between(rng, HISTORY_START, as_of)
        if rng.random() < 0.1:
            org.certification_revoked_on = date_between(rng, org.certified_on + timedelta(days=60), as_of)
            if org.certification_revoked_on >= as_of:
                org.certification_revoked_on = None
    return org


@cache
def _sub_names() -> dict[str, str]:
    return {a.subdistrict_code: a.subdistrict_name_th for a in contract.areas()}


def _sub_name(code: str) -> str:
    return _sub_names().get(code, code)


def build_world(seed: int, scale: float, drops: list[date]) -> World:
    world = World(seed=seed, scale=scale, drops=drops)
    codes, weights = subdistrict_weights()

    # Organisations: a snapshot registry that grows, loses certifications, deletes records.
    rng = rng_for(seed, "organizations")
    n_orgs = max(40, round(1800 * scale))
    orgs = [_new_org(rng, i + 1, drops[0], codes, weights) for i in range(n_orgs)]
    next_id = n_orgs + 1
    world.organizations.append([replace(o) for o in orgs])
    for k, d in enumerate(drops[1:], start=1):
        r = rng_for(seed, "organizations", k)
        live = [o for o in orgs if o.certification and not o.certification_revoked_on]
        for o in r.sample(live, min(len(live), max(1, n_orgs // 60))):
            o.certification_revoked_on = d - timedelta(days=1)
        partners = [o for o in orgs if o.joined_network_on and not o.left_network_on]
        for o in r.sample(partners, min(len(partners), max(1, n_orgs // 80))):
            o.left_network_on = d - timedelta(days=1)
        for _ in range(max(1, n_orgs // 50)):
            o = _new_org(r, next_id, d, codes, weights)
            o.joined_network_on = d - timedelta(days=1)
            o.left_network_on = None
            orgs.append(o)
            next_id += 1
        if len(orgs) > 5:
            orgs.pop(r.randrange(len(orgs)))  # deleted at the source
        world.organizations.append([replace(o) for o in orgs])

    # Volunteers: a snapshot registry of people with national ids.
    rng = rng_for(seed, "volunteers")
    n_vol = max(60, round(4000 * scale))
    vols = []
    seen: set[str] = set()
    for i in range(n_vol):
        sub = rng.choices(codes, weights)[0]
        nid = national_id(rng, sub[:4])
        while nid in seen:
            nid = national_id(rng, sub[:4])
        seen.add(nid)
        reg = date_between(rng, HISTORY_START, drops[0] - timedelta(days=1))
        left = date_between(rng, reg + timedelta(days=90), drops[0]) if rng.random() < 0.15 else None
        if left and left >= drops[0]:
            left = None
        vols.append(Volunteer(f"V{i + 1:06d}", nid, sub, reg, left))
    world.volunteers.append([replace(v) for v in vols])
    for k, d in enumerate(drops[1:], start=1):
        r = rng_for(seed, "volunteers", k)
        for v in r.sample(vols, min(len(vols), max(1, n_vol // 100))):
            if v.left_on is None:
                v.left_on = d - timedelta(days=1)
        for _ in range(max(1, n_vol // 100)):
            sub = r.choices(codes, weights)[0]
            nid = national_id(r, sub[:4])
            if nid in seen:
                continue
            seen.add(nid)
            vols.append(Volunteer(f"V{len(vols) + 1:06d}", nid, sub, d - timedelta(days=1)))
        world.volunteers.append([replace(v) for v in vols])
    return world
