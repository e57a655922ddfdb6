"""The people of the synthetic Nakhon Sawan: persons, households, deaths, disability, allowances.

Built once per (seed, scale, last drop) with numpy and held as parallel arrays,
one entry a person (dates as proleptic ordinals): at scale 1.0 about 1.1
million persons.

Calibration (province-facts.md): the persons alive at the last drop follow the
2566 age table and the district shares of geography.py; about 5% more died
between October 2016 and the last drop, mostly old; about 3.1% have a
disability; households average about 3 persons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from welfare.contract.thai import national_id_check_digit
from welfare.generate.geography import Geography, build_geography
from welfare.generate.people import FIRST_NAMES_F, FIRST_NAMES_M, LAST_NAMES

POPULATION_2564 = 1_035_028
AGE_TABLE = [  # 2566, persons by 5-year band from 0-4 to 100+
    36_089, 47_954, 57_503, 59_909, 59_804, 70_692, 70_345, 65_787, 73_766, 75_726, 78_202, 85_003,
    73_761, 56_411, 45_422, 27_841, 18_703, 11_676, 4_782, 1_585, 922,
]
DEATH_SHARE = 0.053          # of the living, died between 2016-10-01 and the last drop
HOUSEHOLD_SIZES = [1, 2, 3, 4, 5, 6, 7]
HOUSEHOLD_WEIGHTS = [0.14, 0.24, 0.25, 0.19, 0.10, 0.05, 0.03]
PROGRAMME_START = date(2016, 10, 1).toordinal()   # first period in the payments history
POVERTY_LINE = 38_000
POOR_SHARE_BY_YEAR = {2560: 0.075, 2561: 0.065, 2562: 0.058, 2563: 0.052, 2564: 0.045}
DISABILITY_TYPE_WEIGHTS = [10, 20, 50, 7, 8, 2, 3]   # types 1..7 (seeing, hearing, physical, ...)
REL_HEAD, REL_SPOUSE, REL_CHILD, REL_PARENT, REL_RELATIVE, REL_OTHER = range(6)
RELATIONS = ["HEAD", "SPOUSE", "CHILD", "PARENT", "RELATIVE", "OTHER"]
SEXES = ["ชาย", "หญิง"]


def years_after(ordinal: int, years: int) -> int:
    d = date.fromordinal(ordinal)
    try:
        return d.replace(year=d.year + years).toordinal()
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28).toordinal()


def age_on(birth: int, day: int) -> int:
    b, d = date.fromordinal(birth), date.fromordinal(day)
    return d.year - b.year - ((d.month, d.day) < (b.month, b.day))


@dataclass(slots=True)
class Household:
    code: str
    village: int
    house_no: str
    members: list[int]          # person indices, head first
    latent: float               # persistent income level (standard normal)


@dataclass(slots=True)
class Province:
    seed: int
    scale: float
    ref: int                    # the last drop date (ordinal)
    geo: Geography
    n: int
    village: np.ndarray
    sex: np.ndarray
    birth: np.ndarray
    death: np.ndarray            # 0 = alive at the last drop
    disability: np.ndarray       # 0 none, else type 1..7
    relation: np.ndarray
    household: np.ndarray
    nid: list[str]
    first: list[str]
    last: list[str]
    households: list[Household]
    district_takeup: dict[str, float] = field(default_factory=dict)

    def subdistrict(self, i: int) -> str:
        return self.geo.villages[int(self.village[i])].subdistrict_code

    def alive_on(self, i: int, day: int) -> bool:
        return self.birth[i] <= day and (self.death[i] == 0 or self.death[i] > day)


def _national_ids(rng: np.random.Generator, district: list[str], birth: np.ndarray) -> list[str]:
    born_1984 = date(1984, 1, 1).toordinal()
    n = len(district)
    serial = rng.integers(0, 10**7, size=n)
    kind_draw = rng.random(n)
    seen: set[str] = set()
    out: list[str] = []
    for i in range(n):
        if birth[i] < born_1984:
            kind = 3 if kind_draw[i] < 0.95 else 5
        else:
            kind = 1 if kind_draw[i] < 0.94 else (2 if kind_draw[i] < 0.98 else 8)
        s = int(serial[i])
        while True:
            body = f"{kind}{district[i]}{s:07d}"
            if body not in seen:
                break
            s = (s + 7_919) % 10**7
        seen.add(body)
        out.append(body + str(national_id_check_digit(body)))
    return out


def build_province(seed: int, scale: float, ref: date) -> Province:
    geo = build_geography(seed)
    rng = np.random.default_rng([seed, 60, 1])
    ref_ord = ref.toordinal()
    n_alive = max(200, round(POPULATION_2564 * scale))
    n_dead = round(n_alive * DEATH_SHARE)
    n = n_alive + n_dead

    # Ages of the living at the last drop, from the age table.
    bands = np.array(AGE_TABLE, dtype=float)
    band = rng.choice(len(bands), size=n_alive, p=bands / bands.sum())
    age_days = ((band * 5 + rng.random(n_alive) * 5) * 365.2425).astype(np.int64)
    birth_alive = ref_ord - age_days
    # The dead: ages at death weighted towards old age; died between October 2016 and the last drop.
    mid = np.arange(len(bands)) * 5 + 2.5
    death_w = bands * np.exp(0.085 * (mid - 60))
    dband = rng.choice(len(bands), size=n_dead, p=death_w / death_w.sum())
    died = PROGRAMME_START + (rng.random(n_dead) * (ref_ord - 1 - PROGRAMME_START)).astype(np.int64)
    birth_dead = died - ((dband * 5 + rng.random(n_dead) * 5) * 365.2425).astype(np.int64)
    birth = np.concatenate([birth_alive, birth_dead])
    death = np.concatenate([np.zeros(n_alive, dtype=np.int64), died])
    sex = (rng.random(n) < 0.515).astype(np.int8)  # 1 = female

    # Villages, then households inside each village.
    vw = np.array([v.weight for v in geo.villages])
    village = rng.choice(len(vw), size=n, p=vw / vw.sum()).astype(np.int32)
    order = np.lexsort((rng.random(n), village))
    sizes = rng.choice(HOUSEHOLD_SIZES, size=n, p=HOUSEHOLD_WEIGHTS)
    latent = rng.standard_normal(n)
    household = np.zeros(n, dtype=np.int32)
    relation = np.zeros(n, dtype=np.int8)
    households: list[Household] = []
    seq_in_village: dict[int, int] = {}
    pos = 0
    k = 0
    order_l = order.tolist()
    village_l = village.tolist()
    birth_l = birth.tolist()
    sex_l = sex.tolist()
    while pos < n:
        v = village_l[order_l[pos]]
        size = int(sizes[k])
        members = []
        while pos < n and len(members) < size and village_l[order_l[pos]] == v:
            members.append(order_l[pos])
            pos += 1
        members.sort(key=lambda i: birth_l[i])
        head = members[0]
        if len(members) > 1 and age_on(birth_l[head], ref_ord) >= 70:
            younger = [i for i in members[1:] if 35 <= age_on(birth_l[i], ref_ord) <= 60]
            if younger:
                members.remove(younger[0])
                members.insert(0, younger[0])
                head = members[0]
        relation[head] = REL_HEAD
        spouse_taken = False
        for i in members[1:]:
            gap = (birth_l[i] - birth_l[head]) / 365.25
            if gap <= -15:
                relation[i] = REL_PARENT
            elif gap >= 15:
                relation[i] = REL_CHILD
            elif not spouse_taken and sex_l[i] != sex_l[head] and age_on(birth_l[i], ref_ord) >= 18:
                relation[i] = REL_SPOUSE
                spouse_taken = True
            else:
                relation[i] = REL_RELATIVE if gap > -15 else REL_OTHER
        s = seq_in_village.get(v, 0) + 1
        seq_in_village[v] = s
        house_no = str(s) if s % 7 else f"{s}/{1 + s % 3}"
        for i in members:
            household[i] = len(households)
        households.append(Household(f"{geo.villages[v].code}{s:03d}", v, house_no, members, float(latent[k])))
        k += 1

    # Disability, more common with age (about 3.1% of all persons).
    age_ref = (ref_ord - birth) / 365.2425
    p_dis = np.select([age_ref < 18, age_ref < 60, age_ref < 80], [0.008, 0.023, 0.06], 0.12)
    disabled = rng.random(n) < p_dis
    dtype = rng.choice(7, size=n, p=np.array(DISABILITY_TYPE_WEIGHTS) / sum(DISABILITY_TYPE_WEIGHTS)) + 1
    disability = np.where(disabled, dtype, 0).astype(np.int8)

    # Names: a household shares a last name, mostly.
    fm = rng.integers(0, len(FIRST_NAMES_M), size=n)
    ff = rng.integers(0, len(FIRST_NAMES_F), size=n)
    ln = rng.integers(0, len(LAST_NAMES), size=n)
    own_last = rng.random(n) < 0.2
    first = [FIRST_NAMES_F[ff[i]] if sex_l[i] else FIRST_NAMES_M[fm[i]] for i in range(n)]
    hh_last = [LAST_NAMES[ln[h.members[0]]] for h in households]
    household_l = household.tolist()
    last = [LAST_NAMES[ln[i]] if own_last[i] else hh_last[household_l[i]] for i in range(n)]
    district = [geo.villages[v].code[:4] for v in village_l]
    nid = _national_ids(rng, district, birth)
    takeup = {d: float(rng.uniform(0.80, 0.93)) for d in geo.district_weight}
    return Province(seed, scale, ref_ord, geo, n, village, sex, birth, death, disability, relation, household,
                    nid, first, last, households, takeup)


def poor_threshold_mu(year: int, sigma: float) -> float:
    """Log-mean income a head so that POOR_SHARE_BY_YEAR of households fall below the line."""
    share = POOR_SHARE_BY_YEAR.get(year, 0.045)
    # inverse normal by bisection (no scipy): z with Phi(z) = share
    lo, hi = -6.0, 0.0
    for _ in range(60):
        midz = (lo + hi) / 2
        if 0.5 * math.erfc(-midz / math.sqrt(2)) < share:
            lo = midz
        else:
            hi = midz
    return math.log(POVERTY_LINE) - lo * sigma
