"""Each source system's files for one drop, streamed through ``ExtractWriter``s.

Snapshots are written whole every night from the state as of the drop date;
increments carry the records dated since the previous drop (the first drop:
the whole history) plus corrections that re-send a key with changed values.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from datetime import date
from typing import NamedTuple

import numpy as np

from welfare.contract.thai import fiscal_year_of
from welfare.generate import msdhs as ms
from welfare.generate.province import POVERTY_LINE, RELATIONS, SEXES, Province, years_after
from welfare.generate.registry import SURVEY_YEARS, Registry, income_per_head, survey_day
from welfare.generate.render import be, fy_start, iso, month_of, month_start, period, rng_for
from welfare.generate.sink import ExtractWriter

WriterFor = Callable[..., ExtractWriter | None]
BMN_RESULTS = ["ผ่าน", "ไม่ผ่าน", "ไม่เกี่ยวข้อง"]
INCOME_INDICATOR = 23
N_PATTERNS = 2048


def window(drops: list[int], k: int) -> tuple[int, int]:
    """The days an increment of drop k covers: [previous drop, this drop)."""
    return (drops[k - 1] if k else 0), drops[k]


def write_rows(w: ExtractWriter | None, rows, protected: Callable[[list], bool] | None = None) -> None:
    if w is None:
        return
    for cells in rows:
        w.add(cells, protected=bool(protected and protected(cells)))


# ---------------------------------------------------------------------------- msdhs
def service_cells(p: Province, s: ms.Service) -> list[str]:
    return [s.service_id, p.nid[s.person], s.service_type, f"{s.amount}.00", be(s.delivered_on),
            p.subdistrict(s.person)]


class Msdhs:
    def __init__(self, p: Province, reg: Registry, drops: list[int]):
        self.p, self.reg, self.drops = p, reg, drops
        self.orgs = ms.organizations(p, drops)
        self.services = ms.services(p, reg.persons, drops)
        self.volunteers = ms.volunteers(p, drops)
        self.trainings = ms.trainings(p, self.orgs, drops)
        self.activities = ms.activities(p, self.orgs, drops)
        self.proposals = ms.proposals(p, self.orgs, drops)
        self.media = ms.media(p, drops)

    def write(self, k: int, writer: WriterFor) -> None:
        p, d = self.p, self.drops[k]
        lo, hi = window(self.drops, k)
        people = [t for t in self.reg.persons if t.registered < d and (t.deleted_from is None or t.deleted_from > k)]
        w = writer("target_persons", n=len(people))
        if w is not None:
            for t in people:
                row = w.add(ms.target_person_cells(p, t, d), protected=t.protected)
                if t.conflict:
                    w.note(row, f"conflict:{t.conflict}", "source_conflict")

        cards = [[c.card_no, p.nid[c.person], str(c.disability_type), be(c.issued_on), be(c.expires_on)]
                 for c in self.reg.cards if c.issued_on < d]
        write_rows(writer("disability_cards", n=len(cards)), cards)

        rows = [service_cells(p, s) for s in self.services if lo <= s.delivered_on < hi]
        if k:  # corrections: a few earlier services re-sent with the amount put right
            r = rng_for(p.seed, "services-corrections", k)
            earlier = [s for s in self.services if s.delivered_on < lo]
            for s in r.sample(earlier, min(len(earlier), max(1, len(self.services) // 500))):
                s.amount += 100
                rows.append(service_cells(p, s))
        write_rows(writer("welfare_services", n=len(rows)), rows)

        orgs = [o.cells(d) for o in self.orgs if o.created < d and (o.deleted_from is None or o.deleted_from > k)]
        write_rows(writer("organizations", n=len(orgs)), orgs)

        rows = [[t.training_id, t.org_id, t.course, be(t.held_on), str(t.participants)]
                for t in self.trainings if lo <= t.held_on < hi]
        write_rows(writer("org_trainings", n=len(rows)), rows)

        vols = [[v.volunteer_id, p.nid[v.person], p.subdistrict(v.person), be(v.registered_on),
                 be(v.left_on) if v.left_on and v.left_on < d else ""]
                for v in self.volunteers if v.registered_on < d]
        write_rows(writer("volunteers", n=len(vols)), vols)

        acts = [[a.activity_id, a.org_id, a.sector, a.title, str(a.fiscal_year), be(a.started_on),
                 a.subdistrict_code, "" if a.beneficiaries is None else str(a.beneficiaries),
                 "Y" if a.sufficiency_economy else "N"] for a in self.activities if a.started_on < d]
        write_rows(writer("activities", n=len(acts)), acts)

        props = [c for c in (ms.proposal_cells(f, d) for f in self.proposals) if c]
        write_rows(writer("fund_proposals", n=len(props)), props)

        works = [c for c in (ms.media_cells(m, d) for m in self.media) if c]
        write_rows(writer("media_works", n=len(works)), works)


# ---------------------------------------------------------------------------- cdd
class Cdd:
    def __init__(self, p: Province, reg: Registry, drops: list[int]):
        self.p, self.reg, self.drops = p, reg, drops
        rng = rng_for(p.seed, "village_sufficiency")
        last_fy = fiscal_year_of(date.fromordinal(drops[-1] - 1))
        self.levels: dict[tuple[str, int], int] = {}
        for v in p.geo.villages:
            level = rng.choices([0, 1, 2, 3], [35, 45, 15, 5])[0]
            for fy in range(2559, last_fy + 1):
                if rng.random() < 0.22 and level < 3:
                    level += 1
                if rng.random() < 0.9:
                    self.levels[(v.code, fy)] = level
        self.funds = community_funds(p)

    def write(self, k: int, writer: WriterFor) -> None:
        p, d = self.p, self.drops[k]
        rows = [[v.code, v.name, v.subdistrict_code] for v in p.geo.villages]
        write_rows(writer("villages", n=len(rows)), rows)

        rows = [[code, str(fy), ["ไม่ผ่าน", "พออยู่พอกิน", "อยู่ดีกินดี", "มั่งมีศรีสุข"][lvl]]
                for (code, fy), lvl in self.levels.items() if fy_start(fy) + 270 < d]
        write_rows(writer("village_sufficiency", n=len(rows)), rows)

        rows = [[f.fund_id, f.name, f.subdistrict_code, be(f.established_on), str(f.members + 3 * k),
                 f"{f.balance + 1250 * k}.00"] for f in self.funds if f.established_on < d]
        write_rows(writer("community_welfare_funds", n=len(rows)), rows)

        if k == 0:  # the BMN survey is an annual round: the first drop carries it, later nights omit it
            self._bmn(writer)

    def _bmn(self, writer: WriterFor) -> None:
        """Households, members and 31 indicator results per household, for every survey year so far.

        Rendered straight to CSV text (no value needs quoting); a row that gets a planted defect
        goes through cells. Indicator results come from 2,048 random 31-result patterns per year,
        with indicator 23 (income of at least 38,000 baht a head) set from the household's income.
        """
        p = self.p
        years = [y for y in SURVEY_YEARS if survey_day(y) < self.drops[0]]
        wh, wm, wi = writer("bmn_households"), writer("bmn_members"), writer("bmn_indicators")
        birth, death, sex = p.birth.tolist(), p.death.tolist(), p.sex.tolist()
        relation, disability = p.relation.tolist(), p.disability.tolist()
        villages = p.geo.villages
        person: list[str | None] = [None] * p.n
        for year in years:
            sd = survey_day(year)
            income = income_per_head(p, year).tolist()
            grng = np.random.default_rng([p.seed, 61, year])
            skipped = (grng.random(len(p.households)) < 0.005).tolist()
            patterns = grng.choice(3, size=(N_PATTERNS, 31), p=[0.92, 0.05, 0.03]).tolist()
            pick = grng.integers(0, N_PATTERNS, size=len(p.households)).tolist()
            texts = {}
            ys = str(year)
            for h, hh in enumerate(p.households):
                if skipped[h]:
                    continue
                members = [i for i in hh.members if birth[i] < sd and (death[i] == 0 or death[i] > sd)]
                if not members:
                    continue
                head = members[0]
                size = len(members)
                total = round(income[h] * size, -2)
                code = hh.code
                if wh is not None:
                    cells = [ys, code, villages[hh.village].code, hh.house_no, p.nid[head], str(size), f"{total:.0f}"]
                    if wh.clear_for(1):
                        wh.add_text(",".join(cells) + "\r\n", 1)
                    else:
                        wh.add(cells)
                if wm is not None:
                    for i in members:
                        rel = "HEAD" if i == head else RELATIONS[relation[i]]
                        if rel == "HEAD" and i != head:  # the designated head died: a relative took over
                            rel = "RELATIVE"
                        frag = person[i]
                        if frag is None:
                            frag = person[i] = f"{p.nid[i]},{p.first[i]},{p.last[i]},{SEXES[sex[i]]},{be(birth[i])}"
                        if wm.clear_for(1):
                            wm.add_text(f"{ys},{code},{frag},{rel},{'Y' if disability[i] else 'N'}\r\n", 1)
                        else:
                            wm.add([ys, code, *frag.split(","), rel, "Y" if disability[i] else "N"])
                if wi is not None:
                    poor = total / size < POVERTY_LINE
                    key = (pick[h], poor)
                    text = texts.get(key)
                    if text is None:
                        res = list(patterns[pick[h]])
                        res[INCOME_INDICATOR - 1] = 1 if poor else 0
                        text = texts[key] = "".join(f"\x00{j + 1},{BMN_RESULTS[r]}\r\n" for j, r in enumerate(res))
                    if wi.clear_for(31):
                        wi.add_text(text.replace("\x00", f"{ys},{code},"), 31)
                    else:
                        for line in text.split("\r\n")[:-1]:
                            no, result = line[1:].split(",")
                            wi.add([ys, code, no, result])


# ---------------------------------------------------------------------------- lao
class Budget(NamedTuple):
    lao_code: str
    fiscal_year: int
    category: str
    planned: int   # baht
    spent: int     # baht


class FundContribution(NamedTuple):
    contribution_id: str
    lao_code: str
    fund_id: str
    fiscal_year: int
    amount: int    # baht
    paid_on: int   # ordinal


class WelfareProject(NamedTuple):
    project_id: str
    lao_code: str
    fiscal_year: int
    title: str
    started_on: int   # ordinal
    budget: int       # baht
    beneficiaries: int | None
    sufficiency_economy: bool


class Lao:
    def __init__(self, p: Province, reg: Registry, drops: list[int]):
        self.p, self.reg, self.drops = p, reg, drops
        rng = rng_for(p.seed, "lao")
        last_fy = fiscal_year_of(date.fromordinal(drops[-1] - 1))
        self.fys = list(range(2559, last_fy + 1))
        self.string_amounts = string_amount_laos(p)
        self.budgets: list[Budget] = []
        self.contributions: list[FundContribution] = []
        self.projects: list[WelfareProject] = []
        has_fund = {f.subdistrict_code for f in community_funds(p)}
        for a in p.geo.authorities:
            subs = a.subdistrict_codes or ([a.partial_of] if a.partial_of else [])
            fund_subs = [s for s in subs if s in has_fund] or (sorted(has_fund)[:1] if a.lao_type == "PAO" else [])
            for fy in self.fys:
                t = fy - self.fys[0]
                supports = a.lao_type == "PAO" or rng.random() < 0.55 + 0.07 * t
                planned = rng.randrange(100_000, 2_000_000, 1000)
                self.budgets.append(Budget(a.lao_code, fy, "SOCIAL_WELFARE", planned,
                                           round(planned * rng.uniform(0.6, 1.0)) if supports else 0))
                contributes = bool(fund_subs) and rng.random() < 0.4 + 0.08 * t
                planned = rng.randrange(20_000, 300_000, 1000)
                self.budgets.append(Budget(a.lao_code, fy, "COMMUNITY_WELFARE_FUND", planned,
                                           round(planned * rng.uniform(0.5, 1.0)) if contributes else 0))
                planned = rng.randrange(5_000_000, 60_000_000, 10_000)
                self.budgets.append(Budget(a.lao_code, fy, "OTHER", planned, round(planned * rng.uniform(0.7, 0.98))))
                if contributes:
                    for _ in range(rng.randint(1, 2)):
                        paid = fy_start(fy) + rng.randrange(30, 360)
                        self.contributions.append(FundContribution(
                            f"FC{len(self.contributions) + 1:06d}", a.lao_code, f"CWF{rng.choice(fund_subs)}", fy,
                            rng.randrange(10_000, 100_000, 500), paid))
                for _ in range(rng.choices([0, 1, 2, 3], [30, 40, 20, 10])[0]):
                    started = fy_start(fy) + rng.randrange(0, 330)
                    self.projects.append(WelfareProject(
                        f"LP{len(self.projects) + 1:06d}", a.lao_code, fy,
                        f"โครงการ{rng.choice(ms.ACTIVITY_TITLES)} ({a.name})", started,
                        rng.randrange(10_000, 500_000, 500), rng.randint(20, 800) if rng.random() < 0.85 else None,
                        rng.random() < 0.25 + 0.05 * t))
        served = [x for x in p.geo.authorities if x.subdistrict_codes and x.subdistrict_codes[0] in has_fund]
        for d in drops[1:]:  # every later night brings a contribution
            a = rng.choice(served)
            self.contributions.append(FundContribution(
                f"FC{len(self.contributions) + 1:06d}", a.lao_code, f"CWF{a.subdistrict_codes[0]}",
                fiscal_year_of(date.fromordinal(d - 1)), 20_000, d - 1))
        self.contributions.sort(key=lambda c: (c.paid_on, c.contribution_id))

    def money(self, lao_code: str, amount: int):
        return f"{amount}.00" if lao_code in self.string_amounts else amount

    def write(self, k: int, writer: WriterFor) -> None:
        p, d = self.p, self.drops[k]
        lo, hi = window(self.drops, k)
        rows = [[a.lao_code, a.name, a.lao_type, a.district_code, list(a.subdistrict_codes)] for a in p.geo.authorities]
        write_rows(writer("authorities", n=len(rows)), rows)

        last_fy = fiscal_year_of(date.fromordinal(d - 1))
        rows = [[b.lao_code, b.fiscal_year, b.category, self.money(b.lao_code, b.planned),
                 self.money(b.lao_code, b.spent)] for b in self.budgets if b.fiscal_year <= last_fy]
        write_rows(writer("budgets", n=len(rows)), rows)

        rows = [[c.contribution_id, c.lao_code, c.fund_id, c.fiscal_year, self.money(c.lao_code, c.amount),
                 iso(c.paid_on)] for c in self.contributions if lo <= c.paid_on < hi]
        write_rows(writer("fund_contributions", n=len(rows)), rows)

        rows = [[x.project_id, x.lao_code, x.fiscal_year, x.title, iso(x.started_on), self.money(x.lao_code, x.budget),
                 x.beneficiaries, x.sufficiency_economy] for x in self.projects if x.started_on < d]
        write_rows(writer("welfare_projects", n=len(rows)), rows)


def write_payments(p: Province, reg: Registry, drops: list[int], writers: list[ExtractWriter | None],
                   duplicate_rate: float) -> None:
    """The allowance payments of every drop in one pass over the recipients (the big stream).

    A payment goes to the first drop made after its paid_on; one paid on or after
    the last drop date is not delivered yet. A few payments of each later night
    are corrections of an earlier one (the amount put right). Rows are rendered
    straight to JSON text; only a row that gets a planted defect goes through cells.
    """
    rng = np.random.default_rng([p.seed, 62])
    prng = rng_for(p.seed, "payments")
    seq = 0
    string_laos = string_amount_laos(p)
    lao_by_code = {a.lao_code: a for a in p.geo.authorities}
    corrections: list[list[list]] = [[] for _ in drops]
    dup_gap = (1.0 / duplicate_rate) if duplicate_rate > 0 else 0
    next_dup = int(prng.expovariate(1.0) * dup_gap) + 1 if dup_gap else -1
    first_drop, n_drops = drops[0], len(drops)
    for r in reg.recipients:
        i = r.i
        nid, lao, kind = p.nid[i], r.lao_code, r.kind
        as_string = lao in string_laos
        mid = f'","lao_code":"{lao}","national_id":"{nid}","allowance_type":"{kind}","period":"'
        birth = int(p.birth[i])
        if kind == "ELDERLY":
            m70, m80, m90 = (first_month_aged(birth, y) for y in (70, 80, 90))
        elif kind == "DISABILITY":
            m18 = first_month_aged(birth, 18)
        months = range(r.start, r.end + 1 + r.after_death)
        days = rng.integers(1, 11, size=len(months)).tolist()
        late = (rng.random(len(months)) < 0.1).tolist()
        for n_m, m in enumerate(months):
            day = days[n_m] if not late[n_m] else 10 + days[n_m] + int(days[n_m] * 1.7)
            paid_on = month_start(m) + min(day, 28) - 1
            k = 0 if paid_on < first_drop else bisect.bisect_right(drops, paid_on)
            if k >= n_drops:
                continue
            if kind == "ELDERLY":
                amount = 1000 if m >= m90 else 800 if m >= m80 else 700 if m >= m70 else 600
            elif kind == "DISABILITY":
                amount = 1000 if m < m18 and m >= DISABILITY_1000_FROM else 800
            else:
                amount = 500
            seq += 1
            w = writers[k]
            if w is None:
                continue
            improper = None
            if r.early and n_m < r.early:
                improper = "underage_elderly"
            elif r.after_death and m > r.end:
                improper = "paid_after_death"
            corrected = k + 1 < n_drops and not improper and prng.random() < 0.0005
            duplicate = 0 < next_dup <= seq and not improper
            shown = amount - 100 if corrected else amount
            if improper or duplicate or not w.clear_for(1):
                cells = [f"PAY{seq:010d}", lao, nid, kind, period(m), f"{shown}.00" if as_string else shown,
                         iso(paid_on)]
                # the original of a planted duplicate must stay valid for the duplicate to be improper
                row = w.add(cells, protected=bool(improper or duplicate))
                if improper:
                    w.note(row, f"improper:{improper}", improper)
            else:
                amt = f'"{shown}.00"' if as_string else shown
                w.add_text(f'{{"payment_id":"PAY{seq:010d}{mid}{period(m)}","amount":{amt},'
                           f'"paid_on":"{iso(paid_on)}"}}\n', 1)
            if corrected:
                corrections[prng.randrange(k + 1, n_drops)].append(
                    [f"PAY{seq:010d}", lao, nid, kind, period(m), f"{amount}.00" if as_string else amount,
                     iso(paid_on)])
            if duplicate:
                next_dup = seq + int(prng.expovariate(1.0) * dup_gap) + 1
                other = _other_authority(p, lao_by_code[lao], prng)
                dup_paid = paid_on + prng.randint(1, 15)
                dk = bisect.bisect_right(drops, dup_paid)
                if dk < n_drops and writers[dk] is not None:
                    seq += 1
                    row = writers[dk].add([f"PAY{seq:010d}", other, nid, kind, period(m), amount, iso(dup_paid)],
                                          protected=True)
                    writers[dk].note(row, "improper:duplicate_payment", "duplicate_payment")
    for k, rows in enumerate(corrections):
        if writers[k] is not None:
            for cells in rows:
                writers[k].add(cells, protected=True)


DISABILITY_1000_FROM = 2020 * 12 + 9  # October 2020: 1,000 baht for persons under 18


def first_month_aged(birth: int, years: int) -> int:
    """The first month on whose first day a person born on ``birth`` is ``years`` old."""
    day = years_after(birth, years)
    return month_of(day) + (0 if date.fromordinal(day).day == 1 else 1)


def _other_authority(p: Province, a, rng) -> str:
    same = [x.lao_code for x in p.geo.authorities if x.district_code == a.district_code and x.lao_code != a.lao_code]
    return rng.choice(same) if same else p.geo.authorities[0].lao_code


def string_amount_laos(p: Province) -> set[str]:
    """Authorities whose system sends amounts as numeric strings (the contract allows both)."""
    rng = rng_for(p.seed, "lao-amount-style")
    return {a.lao_code for a in p.geo.authorities if rng.random() < 0.1}


class CommunityFund(NamedTuple):
    fund_id: str
    name: str
    subdistrict_code: str
    established_on: int   # ordinal
    members: int          # at the first drop; each later night adds 3
    balance: int          # baht at the first drop; each later night adds 1,250


def community_funds(p: Province) -> list[CommunityFund]:
    """At most one community welfare fund a subdistrict."""
    rng = rng_for(p.seed, "community_welfare_funds")
    funds = []
    for sub in sorted(p.geo.subdistrict_weight):
        if rng.random() < 0.9:
            est = date(2008, 1, 1).toordinal() + rng.randrange(0, 4600)
            funds.append(CommunityFund(f"CWF{sub}", f"กองทุนสวัสดิการชุมชนตำบล{p.geo.sub_name(sub)}", sub, est,
                                       rng.randint(150, 2500), rng.randrange(50_000, 3_000_000, 100)))
    return funds
