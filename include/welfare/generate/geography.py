"""The province's geography, whole at every scale: districts, subdistricts, villages, local authorities.

Population weights follow the published 2566 registration figures by district
(province-facts.md); districts without a published figure share the remainder
by their number of subdistricts (Phayuha Khiri uses its 2564 figure).

Local authorities: 1 PAO, 21 municipalities (1 city, 4 town, 16 subdistrict
municipalities) and 121 SAOs, as published. The contract requires every
subdistrict to be served by exactly one non-PAO authority, and there are 142
non-PAO authorities for 130 subdistricts: so each subdistrict lists exactly one
authority, and 12 municipalities carved out of a subdistrict whose remainder an
SAO serves list no whole subdistrict (``subdistrict_codes: []``). They still
pay allowances to the persons living inside their boundary.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cache

from welfare import contract

VILLAGES_IN_PROVINCE = 1431
PUBLISHED_DISTRICT_POPULATION = {  # 2566, except Phayuha Khiri (2564)
    "6001": 241_206, "6002": 33_537, "6003": 61_647, "6004": 65_026, "6005": 83_432, "6008": 60_506,
}
PROVINCE_POPULATION_2566 = 1_021_883
N_MUNICIPALITIES = {"CITY_MUNICIPALITY": 1, "TOWN_MUNICIPALITY": 4, "SUBDISTRICT_MUNICIPALITY": 16}
N_SAO = 121
LAO_TYPE_DIGIT = {"PAO": "1", "CITY_MUNICIPALITY": "2", "TOWN_MUNICIPALITY": "3",
                  "SUBDISTRICT_MUNICIPALITY": "4", "SAO": "5"}
LAO_TYPE_TH = {"PAO": "องค์การบริหารส่วนจังหวัด", "CITY_MUNICIPALITY": "เทศบาลนคร",
               "TOWN_MUNICIPALITY": "เทศบาลเมือง", "SUBDISTRICT_MUNICIPALITY": "เทศบาลตำบล",
               "SAO": "องค์การบริหารส่วนตำบล"}
VILLAGE_WORDS = ["หนอง", "บึง", "โคก", "ดอน", "นา", "ท่า", "วัง", "คลอง", "ไผ่", "มะขาม", "ตะเคียน", "สระ",
                 "หัว", "ทุ่ง", "เขา", "ป่า", "บาง", "โพธิ์", "ไทร", "ยาง", "แก", "เนิน", "ห้วย", "บ่อ"]
VILLAGE_SUFFIX = ["ใหญ่", "น้อย", "เหนือ", "ใต้", "กลาง", "งาม", "ทอง", "พัฒนา", "สามัคคี", "ใหม่", "เก่า",
                  "แดง", "ขาม", "โพธิ์", "ตะวันออก", "ตะวันตก", "ยาว", "หลวง", "สุข", "ทราย"]


@dataclass(slots=True)
class Village:
    code: str
    name: str
    subdistrict_code: str
    weight: float  # share of the province's population


@dataclass(slots=True)
class Authority:
    lao_code: str
    name: str
    lao_type: str
    district_code: str
    subdistrict_codes: list[str] = field(default_factory=list)
    # subdistricts where it pays some residents without serving the whole subdistrict
    partial_of: str | None = None


@dataclass(slots=True)
class Geography:
    villages: list[Village]
    authorities: list[Authority]
    subdistrict_weight: dict[str, float]
    district_weight: dict[str, float]
    serving: dict[str, Authority]  # subdistrict -> the one non-PAO authority serving it
    carve_outs: dict[str, Authority]  # subdistrict -> municipality paying part of its residents

    def sub_name(self, code: str) -> str:
        return SUBDISTRICT_NAMES().get(code, code)


@cache
def SUBDISTRICT_NAMES() -> dict[str, str]:  # noqa: N802 - a constant built on first use
    return {a.subdistrict_code: a.subdistrict_name_th for a in contract.areas()}


def district_weights() -> dict[str, float]:
    subs: dict[str, int] = {}
    for a in contract.areas():
        subs[a.district_code] = subs.get(a.district_code, 0) + 1
    rest = PROVINCE_POPULATION_2566 - sum(PUBLISHED_DISTRICT_POPULATION.values())
    rest_subs = sum(n for d, n in subs.items() if d not in PUBLISHED_DISTRICT_POPULATION)
    pop = {d: PUBLISHED_DISTRICT_POPULATION.get(d, rest * n / rest_subs) for d, n in subs.items()}
    total = sum(pop.values())
    return {d: p / total for d, p in pop.items()}


@cache
def build_geography(seed: int) -> Geography:
    """Deterministic in the seed alone: the same province at every scale."""
    rng = random.Random(f"geography|{seed}")
    areas = contract.areas()
    dw = district_weights()
    subs_of: dict[str, list] = {}
    for a in areas:
        subs_of.setdefault(a.district_code, []).append(a)
    sub_weight: dict[str, float] = {}
    for d, subs in subs_of.items():
        raw = [rng.uniform(0.6, 1.4) * (2.2 if i == 0 else 1.0) for i, _ in enumerate(subs)]  # seat is larger
        for a, w in zip(subs, raw, strict=True):
            sub_weight[a.subdistrict_code] = dw[d] * w / sum(raw)

    # Villages: about 1,431, spread by population with at least 3 a subdistrict.
    villages: list[Village] = []
    n_subs = len(areas)
    extra = VILLAGES_IN_PROVINCE - 3 * n_subs
    for a in areas:
        n = 3 + round(extra * sub_weight[a.subdistrict_code])
        n = min(n, 40)
        ws = [rng.uniform(0.5, 1.5) for _ in range(n)]
        for i in range(n):
            name = "บ้าน" + rng.choice(VILLAGE_WORDS) + rng.choice(VILLAGE_SUFFIX)
            villages.append(Village(f"{a.subdistrict_code}{i + 1:02d}", name, a.subdistrict_code,
                                    sub_weight[a.subdistrict_code] * ws[i] / sum(ws)))

    # Local authorities.
    authorities = [Authority("1600000", f"{LAO_TYPE_TH['PAO']}นครสวรรค์", "PAO", "")]
    seq: dict[str, int] = {}

    def new(lao_type: str, a) -> Authority:
        d = a.district_code
        seq[d] = seq.get(d, 0) + 1
        name = LAO_TYPE_TH[lao_type] + ("นครสวรรค์" if lao_type == "CITY_MUNICIPALITY" else a.subdistrict_name_th)
        return Authority(f"{LAO_TYPE_DIGIT[lao_type]}{d}{seq[d]:02d}", name, lao_type, d)

    seats = [subs[0] for subs in subs_of.values()]  # the district seat subdistrict
    town_seats = sorted(seats[1:], key=lambda a: -sub_weight[a.subdistrict_code])[:4]
    municipal_types: dict[str, str] = {seats[0].subdistrict_code: "CITY_MUNICIPALITY"}
    for a in town_seats:
        municipal_types[a.subdistrict_code] = "TOWN_MUNICIPALITY"
    others = [a for a in areas if a.subdistrict_code not in municipal_types]
    for a in rng.sample(others, 16):
        municipal_types[a.subdistrict_code] = "SUBDISTRICT_MUNICIPALITY"
    serving: dict[str, Authority] = {}
    carve_outs: dict[str, Authority] = {}
    municipal_subs = [a for a in areas if a.subdistrict_code in municipal_types]
    # 12 municipalities serve part of a subdistrict whose remainder (and listing) belongs to an SAO.
    partial = set(a.subdistrict_code for a in rng.sample(
        [a for a in municipal_subs if municipal_types[a.subdistrict_code] != "CITY_MUNICIPALITY"], 12))
    for a in areas:
        code = a.subdistrict_code
        if code in municipal_types:
            m = new(municipal_types[code], a)
            authorities.append(m)
            if code in partial:
                m.partial_of = code
                carve_outs[code] = m
                s = new("SAO", a)
                s.subdistrict_codes = [code]
                authorities.append(s)
                serving[code] = s
            else:
                m.subdistrict_codes = [code]
                serving[code] = m
        else:
            s = new("SAO", a)
            s.subdistrict_codes = [code]
            authorities.append(s)
            serving[code] = s
    # 109 subdistricts without a municipality + 12 remainders of carved-out ones = 121 SAOs.
    return Geography(villages, authorities, sub_weight, dw, serving, carve_outs)
