"""The social-development system (MSDHS): target persons, cards, services, organisations and their work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from welfare.contract.thai import fiscal_year_of
from welfare.generate.people import ORG_PREFIXES
from welfare.generate.province import Province, age_on, years_after
from welfare.generate.render import be, fy_start, rng_for

SECTORS = ["COMMUNITY", "CIVIL_SOCIETY", "PRIVATE", "GOVERNMENT", "ACADEMIC", "RELIGIOUS"]
SECTOR_WEIGHTS = [45, 20, 10, 12, 5, 8]


class ServiceType(NamedTuple):
    weight: int       # relative frequency among the services
    min_baht: int
    max_baht: int


SERVICE_TYPES = {
    "EMERGENCY_CASH": ServiceType(45, 1000, 3000), "HOUSING_REPAIR": ServiceType(12, 15000, 40000),
    "CAREGIVER": ServiceType(15, 500, 3000), "OCCUPATION_LOAN": ServiceType(12, 5000, 30000),
    "SHELTER": ServiceType(6, 0, 2000), "ASSISTIVE_DEVICE": ServiceType(10, 0, 12000),
}
COURSES = ["การจัดสวัสดิการสังคมระดับตำบล", "การเขียนโครงการขอรับการสนับสนุนจากกองทุน",
           "ผู้ดูแลผู้สูงอายุในชุมชน", "การบริหารจัดการองค์กรสวัสดิการชุมชน", "การคุ้มครองเด็กและครอบครัว",
           "การพัฒนาศักยภาพภาคีเครือข่าย", "เศรษฐกิจพอเพียงกับการจัดสวัสดิการ"]
ACTIVITY_TITLES = ["ส่งเสริมสุขภาพผู้สูงอายุ", "ซ่อมแซมบ้านผู้ยากไร้", "ฝึกอาชีพสตรี", "ค่ายเยาวชนสร้างสรรค์",
                   "ธนาคารข้าวชุมชน", "ปลูกผักปลอดสารพิษ", "เยี่ยมบ้านคนพิการ", "ครอบครัวอบอุ่น",
                   "ตลาดนัดชุมชนพอเพียง", "ออมวันละบาท"]
MEDIA_TITLES = ["สารคดีสั้น \"พลังผู้สูงวัย\"", "โปสเตอร์รณรงค์ยุติความรุนแรงในครอบครัว",
                "รายการวิทยุ ครอบครัวสุขสันต์", "คลิปวิดีโอ, เยาวชนรักถิ่น", "นิทรรศการสวัสดิการชุมชน",
                "แผ่นพับ สิทธิคนพิการ\nฉบับปรับปรุง"]


@dataclass(slots=True)
class Org:
    org_id: str
    name: str
    sector: str
    sub: str
    created: int
    joined: int | None
    left: int | None
    cert: str | None
    certified: int | None
    revoked: int | None
    qa_fy: int | None
    qa_passed: bool | None
    deleted_from: int | None = None  # drop index from which the source deleted it

    def cells(self, d: int) -> list[str]:
        joined = self.joined if self.joined is not None and self.joined < d else None
        left = self.left if joined is not None and self.left is not None and self.left < d else None
        cert = self.cert if self.certified is not None and self.certified < d else None
        revoked = self.revoked if cert and self.revoked is not None and self.revoked < d else None
        qa_fy = self.qa_fy if self.qa_fy is not None and fy_start(self.qa_fy) + 180 < d else None
        return [self.org_id, self.name, self.sector, self.sub, be(joined), be(left), cert or "",
                be(self.certified) if cert else "", be(revoked), str(qa_fy) if qa_fy else "",
                ("Y" if self.qa_passed else "N") if qa_fy else ""]


def scaled(base: float, scale: float, floor: int) -> int:
    return max(floor, round(base * scale))


def organizations(p: Province, drops: list[int]) -> list[Org]:
    rng = rng_for(p.seed, "organizations")
    subs = list(p.geo.subdistrict_weight)
    weights = [p.geo.subdistrict_weight[s] for s in subs]
    start, first = date(2010, 1, 1).toordinal(), drops[0]
    n = scaled(1500, p.scale, 40)
    orgs: list[Org] = []
    for i in range(n):
        sub = rng.choices(subs, weights)[0]
        # growth: more organisations are created in later years
        created = start + int((first - 1 - start) * rng.random() ** 0.7)
        joined = created + rng.randrange(0, 400) if rng.random() < 0.78 else None
        left = joined + rng.randrange(200, 3000) if joined and rng.random() < 0.15 else None
        cert = rng.choice(("PUBLIC_BENEFIT", "COMMUNITY_WELFARE")) if rng.random() < 0.3 else None
        certified = created + rng.randrange(60, 900) if cert else None
        revoked = certified + rng.randrange(300, 2500) if cert and rng.random() < 0.12 else None
        qa_fy = rng.randint(2559, fiscal_year_of(date.fromordinal(first))) if joined and rng.random() < 0.5 else None
        orgs.append(Org(f"ORG{i + 1:05d}", f"{rng.choice(ORG_PREFIXES)}ตำบล{p.geo.sub_name(sub)}",
                        rng.choices(SECTORS, SECTOR_WEIGHTS)[0], sub, created, joined, left, cert, certified,
                        revoked, qa_fy, (rng.random() < 0.7) if qa_fy else None))
    # Night by night: revocations, partners leaving, newcomers, a deletion at the source.
    for k, d in enumerate(drops[1:], start=1):
        r = rng_for(p.seed, "organizations", k)
        live = [o for o in orgs if o.cert and o.certified < d - 1 and (o.revoked is None or o.revoked >= d)]
        for o in r.sample(live, min(len(live), max(1, n // 80))):
            o.revoked = d - 1
        partners = [o for o in orgs if o.joined and o.joined < d - 1 and (o.left is None or o.left >= d)]
        for o in r.sample(partners, min(len(partners), max(1, n // 100))):
            o.left = d - 1
        for _ in range(max(1, n // 60)):
            sub = r.choices(subs, weights)[0]
            orgs.append(Org(f"ORG{len(orgs) + 1:05d}", f"{r.choice(ORG_PREFIXES)}ตำบล{p.geo.sub_name(sub)}",
                            r.choices(SECTORS, SECTOR_WEIGHTS)[0], sub, d - 1, d - 1, None, None, None, None,
                            None, None))
        gone = [o for o in orgs if o.created < drops[k - 1] and o.deleted_from is None and not o.cert]
        if gone:
            r.choice(gone).deleted_from = k
    return orgs


@dataclass(slots=True)
class Person:
    i: int
    groups: list[str]
    registered: int
    updated: int
    conflict: str | None = None  # "sex" or "birth_date": this record disagrees with the BMN survey
    deleted_from: int | None = None
    protected: bool = False


def title_of(p: Province, i: int, d: int) -> str:
    age = age_on(int(p.birth[i]), d)
    if p.sex[i] == 0:
        return "เด็กชาย" if age < 15 else "นาย"
    if age < 15:
        return "เด็กหญิง"
    return "นาง" if age >= 25 and p.relation[i] in (0, 1) else "นางสาว"


def target_person_cells(p: Province, t: Person, d: int) -> list[str]:
    i = t.i
    hh = p.households[int(p.household[i])]
    village = p.geo.villages[hh.village]
    sex = int(p.sex[i])
    birth = int(p.birth[i])
    if t.conflict == "sex":
        sex = 1 - sex
    elif t.conflict == "birth_date":
        birth = years_after(birth, 1 + i % 3)
    died = int(p.death[i])
    died = died if died and died < d else 0
    updated = max(t.registered, min(t.updated, d - 1), died + 3 if died and died + 3 < d else 0)
    return [p.nid[i], title_of(p, i, d), p.first[i], p.last[i], ["ชาย", "หญิง"][sex], be(birth), hh.house_no,
            str(int(village.code[6:])), village.subdistrict_code, "|".join(t.groups), be(t.registered),
            be(updated), be(died) if died else ""]


@dataclass(slots=True)
class Service:
    """One welfare service delivered to a person; a later night may re-send it with the amount put right."""

    service_id: str
    person: int          # index into the province's persons
    service_type: str
    amount: int          # baht
    delivered_on: int    # ordinal


def services(p: Province, persons: list[Person], drops: list[int]) -> list[Service]:
    """The welfare services of the whole history, ordered by delivery day and id."""
    rng = rng_for(p.seed, "welfare_services")
    start, end = date(2016, 10, 1).toordinal(), drops[-1] - 1
    n = scaled(30_000, p.scale, 60)
    poor = [t for t in persons if "POOR" in t.groups]
    anyone = persons
    out = []
    types = list(SERVICE_TYPES)
    tw = [SERVICE_TYPES[t].weight for t in types]
    for s in range(n):
        pool = poor if poor and rng.random() < 0.5 else anyone
        t = rng.choice(pool)
        delivered = max(start + int((end - start) * rng.random() ** 0.85), t.registered)
        if delivered > end:
            continue
        died = int(p.death[t.i])
        if died and delivered >= died:
            delivered = max(t.registered, died - rng.randrange(1, 60))
        typ = rng.choices(types, tw)[0]
        lo, hi = SERVICE_TYPES[typ].min_baht, SERVICE_TYPES[typ].max_baht
        out.append(Service(f"SV{s + 1:08d}", t.i, typ, rng.randrange(lo, hi + 1, 100), delivered))
    # every later night brings at least one new service
    for k, d in enumerate(drops[1:], start=1):
        t = rng.choice(poor or anyone)
        out.append(Service(f"SV{n + k:08d}", t.i, "EMERGENCY_CASH", 2000, d - 1))
    out.sort(key=lambda s: (s.delivered_on, s.service_id))
    return out


@dataclass(slots=True)
class Volunteer:
    """A registered volunteer; a later night may record that they left."""

    volunteer_id: str
    person: int               # index into the province's persons
    registered_on: int        # ordinal
    left_on: int | None       # ordinal


def volunteers(p: Province, drops: list[int]) -> list[Volunteer]:
    rng = rng_for(p.seed, "volunteers")
    n = scaled(3000, p.scale, 60)
    start = date(2010, 1, 1).toordinal()
    out, seen = [], set()
    while len(out) < n:
        i = rng.randrange(p.n)
        if i in seen:
            continue
        reg = start + int((drops[0] - 1 - start) * rng.random() ** 0.8)
        if not (20 <= age_on(int(p.birth[i]), reg) <= 65) or not p.alive_on(i, reg):
            continue
        seen.add(i)
        died = int(p.death[i])
        left = reg + rng.randrange(180, 3000) if rng.random() < 0.15 else None
        if died and (left is None or left > died):
            left = died
        out.append(Volunteer(f"V{len(out) + 1:06d}", i, reg, left))
    for k, d in enumerate(drops[1:], start=1):
        r = rng_for(p.seed, "volunteers", k)
        active = [v for v in out if v.registered_on < d - 1 and (v.left_on is None or v.left_on >= d)]
        for v in r.sample(active, min(len(active), max(1, n // 100))):
            v.left_on = d - 1
        for _ in range(max(1, n // 100)):
            i = r.randrange(p.n)
            if i not in seen and p.alive_on(i, d) and 20 <= age_on(int(p.birth[i]), d) <= 65:
                seen.add(i)
                out.append(Volunteer(f"V{len(out) + 1:06d}", i, d - 1, None))
    return out


class Training(NamedTuple):
    """One organisation's attendance at a training course."""

    training_id: str
    org_id: str
    course: str
    held_on: int         # ordinal
    participants: int


def trainings(p: Province, orgs: list[Org], drops: list[int]) -> list[Training]:
    rng = rng_for(p.seed, "org_trainings")
    out = []
    first_fy, last_fy = 2557, fiscal_year_of(date.fromordinal(drops[-1] - 1))
    per_year = scaled(40, p.scale, 6)
    t = 0
    for fy in range(first_fy, last_fy + 1):
        for _ in range(per_year + (fy - first_fy)):
            t += 1
            held = fy_start(fy) + rng.randrange(0, 365)
            if held >= drops[-1]:
                continue
            existing = [o for o in orgs if o.created <= held]
            for o in rng.sample(existing, min(len(existing), rng.randint(3, 12))):
                out.append(Training(f"TR{t:05d}", o.org_id, rng.choice(COURSES), held, rng.randint(1, 6)))
    for d in drops[1:]:
        t += 1
        for o in rng.sample(orgs, min(len(orgs), 3)):
            out.append(Training(f"TR{t:05d}", o.org_id, rng.choice(COURSES), d - 1, rng.randint(1, 4)))
    out.sort(key=lambda t: (t.held_on, t.training_id, t.org_id))
    return out


class Activity(NamedTuple):
    """A social-development activity, run by an organisation or by a person or unregistered group."""

    activity_id: str
    org_id: str          # "" when no registered organisation runs it
    sector: str
    title: str
    fiscal_year: int
    started_on: int      # ordinal
    subdistrict_code: str
    beneficiaries: int | None
    sufficiency_economy: bool


def activities(p: Province, orgs: list[Org], drops: list[int]) -> list[Activity]:
    rng = rng_for(p.seed, "activities")
    subs = list(p.geo.subdistrict_weight)
    weights = [p.geo.subdistrict_weight[s] for s in subs]
    out = []
    last_fy = fiscal_year_of(date.fromordinal(drops[-1] - 1))
    for fy in range(2559, last_fy + 1):
        n = scaled(500 + 60 * (fy - 2559), p.scale, 8)
        for _ in range(n):
            started = fy_start(fy) + rng.randrange(0, 330)
            org = rng.choice(orgs) if rng.random() < 0.7 else None
            sector = org.sector if org else rng.choices(SECTORS, SECTOR_WEIGHTS)[0]
            sub = org.sub if org else rng.choices(subs, weights)[0]
            suff = rng.random() < 0.25 + 0.04 * (fy - 2559)
            out.append(Activity(f"ACT{len(out) + 1:06d}", org.org_id if org else "", sector,
                                f"โครงการ{rng.choice(ACTIVITY_TITLES)} ปี {fy}", fy, started, sub,
                                rng.randint(10, 400) if rng.random() < 0.9 else None, suff))
    return out


class FundProposal(NamedTuple):
    """An organisation's request to the welfare fund, with the decision it will get."""

    proposal_id: str
    org_id: str
    fiscal_year: int
    title: str
    submitted_on: int           # ordinal
    requested_amount: int       # baht
    approved_amount: float | None
    status: str                 # the decision, shown once decided_on has passed
    sufficiency_economy: bool
    decided_on: int             # ordinal


def proposals(p: Province, orgs: list[Org], drops: list[int]) -> list[FundProposal]:
    rng = rng_for(p.seed, "fund_proposals")
    certified = [o for o in orgs if o.cert]
    out = []
    last_fy = fiscal_year_of(date.fromordinal(drops[-1] - 1))
    for fy in range(2559, last_fy + 1):
        for _ in range(scaled(120 + 15 * (fy - 2559), p.scale, 6)):
            o = rng.choice(certified) if certified and rng.random() < 0.85 else rng.choice(orgs)
            submitted = fy_start(fy) + rng.randrange(0, 300)
            decided = submitted + rng.randrange(20, 120)
            status = rng.choices(["APPROVED", "REJECTED", "WITHDRAWN"], [65, 25, 10])[0]
            requested = rng.randrange(20_000, 300_000, 500)
            approved = round(requested * rng.uniform(0.5, 1.0), -2) if status == "APPROVED" else None
            suff = rng.random() < 0.3 + 0.05 * (fy - 2559)
            out.append(FundProposal(f"FP{len(out) + 1:05d}", o.org_id, fy, f"โครงการ{rng.choice(ACTIVITY_TITLES)}",
                                    submitted, requested, approved, status, suff, decided))
    return out


class MediaWork(NamedTuple):
    """A media work submitted for approval, with the decision it will get."""

    media_id: str
    title: str
    category: str
    submitted_on: int    # ordinal
    decision: str        # shown once decided_on has passed
    decided_on: int      # ordinal


def media(p: Province, drops: list[int]) -> list[MediaWork]:
    rng = rng_for(p.seed, "media_works")
    out = []
    last_fy = fiscal_year_of(date.fromordinal(drops[-1] - 1))
    for fy in range(2559, last_fy + 1):
        for _ in range(scaled(30 + 5 * (fy - 2559), p.scale, 4)):
            submitted = fy_start(fy) + rng.randrange(0, 330)
            decided = submitted + rng.randrange(15, 90)
            decision = rng.choices(["APPROVED", "REJECTED"], [70, 30])[0]
            out.append(MediaWork(f"MW{len(out) + 1:05d}", rng.choice(MEDIA_TITLES),
                                 rng.choice(["VIDEO", "PRINT", "RADIO", "ONLINE", "EVENT"]), submitted, decision,
                                 decided))
    return out


def media_cells(m: MediaWork, d: int) -> list[str] | None:
    """The media_works row as of drop day ``d`` (PENDING until decided); None before it was submitted."""
    if m.submitted_on >= d:
        return None
    if m.decided_on >= d:
        return [m.media_id, m.title, m.category, be(m.submitted_on), "PENDING", ""]
    return [m.media_id, m.title, m.category, be(m.submitted_on), m.decision, be(m.decided_on)]


def proposal_cells(f: FundProposal, d: int) -> list[str] | None:
    """The fund_proposals row as of drop day ``d`` (SUBMITTED until decided); None before it was submitted."""
    if f.submitted_on >= d:
        return None
    status, approved = f.status, f.approved_amount
    if f.decided_on >= d:
        status, approved = "SUBMITTED", None
    return [f.proposal_id, f.org_id, str(f.fiscal_year), f.title, be(f.submitted_on), f"{f.requested_amount}.00",
            f"{approved:.2f}" if approved is not None else "", status, "Y" if f.sufficiency_economy else "N"]


class DisabilityCard(NamedTuple):
    card_no: str
    person: int            # index into the province's persons
    disability_type: int   # 1..7
    issued_on: int         # ordinal
    expires_on: int        # ordinal


def disability_cards(p: Province, drops: list[int]) -> list[DisabilityCard]:
    """Disability cards, ordered by issue day and number: issued at onset, valid 8 years, usually renewed."""
    rng = rng_for(p.seed, "disability_cards")
    out = []
    floor = date(2008, 1, 1).toordinal()
    end = drops[-1] - 1
    for i in p.disability.nonzero()[0].tolist():
        birth, died = int(p.birth[i]), int(p.death[i])
        last_day = min(end, died - 1) if died else end
        lo = max(birth + 200, floor)
        if last_day <= lo:
            continue
        issued = lo + int((last_day - lo) * rng.random() ** 0.6)
        while issued <= last_day:
            expires = years_after(issued, 8)
            out.append(DisabilityCard(f"DC{len(out) + 1:08d}", i, int(p.disability[i]), issued, expires))
            if rng.random() > 0.88:
                break  # not renewed: the card lapses
            issued = expires - rng.randrange(0, 60)
    out.sort(key=lambda c: (c.issued_on, c.card_no))
    return out
