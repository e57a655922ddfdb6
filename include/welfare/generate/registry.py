"""Who is registered in a target group and who is paid a living allowance.

Elderly allowance: everyone aged 60 on the first day of a month may be paid for
it; a district-dependent share registers (80-93%), a few months after turning
60, and is paid until the month of death. Disability allowance: card holders
while a card is valid (90% take-up). HIV allowance: a small group, 500 baht.
The planted semantic defects (paid after death, under 60, sources that
disagree) are decided here, person by person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np

from welfare.generate.msdhs import DisabilityCard, Person, disability_cards
from welfare.generate.province import POOR_SHARE_BY_YEAR, POVERTY_LINE, Province, age_on, poor_threshold_mu, years_after
from welfare.generate.render import month_of, rng_for

INCOME_SIGMA = 0.55
SURVEY_YEARS = (2560, 2561, 2562, 2563, 2564)


def survey_day(year: int) -> int:
    """The BMN survey of year Y is taken in the first months of CE year Y-543."""
    return date(year - 543, 2, 1).toordinal()


@lru_cache(maxsize=8)
def _eps(seed: int, n_households: int, year: int) -> np.ndarray:
    return np.random.default_rng([seed, 60, year]).standard_normal(n_households)


def income_per_head(p: Province, year: int) -> np.ndarray:
    latent = np.array([h.latent for h in p.households])
    mu = poor_threshold_mu(year, INCOME_SIGMA)
    z = 0.9 * latent + 0.4359 * _eps(p.seed, len(p.households), year)
    return np.exp(mu + INCOME_SIGMA * z)


@dataclass(slots=True)
class Recipient:
    i: int
    kind: str           # ELDERLY | DISABILITY | HIV
    start: int          # first month index paid
    end: int            # last month index paid
    lao_code: str
    early: int = 0      # planted: paid this many months before turning 60
    after_death: int = 0  # planted: paid this many months after the month of death


def lao_of(p: Province, i: int) -> str:
    sub = p.subdistrict(i)
    carve = p.geo.carve_outs.get(sub)
    if carve is not None and int(p.household[i]) % 2 == 0:
        return carve.lao_code
    return p.geo.serving[sub].lao_code


@dataclass(slots=True)
class Registry:
    persons: list[Person]
    recipients: list[Recipient]
    cards: list[DisabilityCard]
    poor_households: set[int]


def build_registry(p: Province, drops: list[int], rates: dict[str, float]) -> Registry:
    rng = rng_for(p.seed, "registry")
    ref = drops[-1] - 1
    last_m = month_of(ref)
    prog_m = 2016 * 12 + 9
    groups: dict[int, list[str]] = {}
    registered: dict[int, int] = {}

    def enrol(i: int, group: str, day: int) -> None:
        g = groups.setdefault(i, [])
        if group not in g:
            g.append(group)
        registered[i] = min(registered.get(i, day), day)

    recipients: list[Recipient] = []
    floor = date(2009, 1, 1).toordinal()
    birth = p.birth.tolist()
    death = p.death.tolist()
    sixty_cut = years_after(ref, -60)
    for i in np.nonzero(p.birth <= sixty_cut)[0].tolist():
        sixty = years_after(birth[i], 60)
        died = death[i]
        if died and died < sixty:
            continue
        district = p.subdistrict(i)[:4]
        if rng.random() < p.district_takeup[district]:
            first_m = month_of(sixty) + (0 if date.fromordinal(sixty).day == 1 else 1)
            start = max(first_m + rng.choice((0, 0, 1, 2)), prog_m)
            end = last_m
            if died:
                end = month_of(died) if rng.random() < 0.5 else month_of(died) - 1
            reg_day = max(floor, sixty - rng.randrange(0, 200))
            if died and reg_day >= died:
                continue
            enrol(i, "ELDERLY", reg_day)
            if start <= end:
                recipients.append(Recipient(i, "ELDERLY", start, end, lao_of(p, i)))
        elif rng.random() < 0.3 and not died:
            enrol(i, "ELDERLY", max(floor, sixty + rng.randrange(0, 400)))

    cards = disability_cards(p, drops)
    first_card: dict[int, int] = {}
    last_expiry: dict[int, int] = {}
    for card in cards:
        i = card.person
        first_card[i] = min(first_card.get(i, card.issued_on), card.issued_on)
        last_expiry[i] = max(last_expiry.get(i, card.expires_on), card.expires_on)
    for i, issued in first_card.items():
        enrol(i, "DISABLED", issued)
        if rng.random() < 0.9:
            start = max(month_of(issued) + 1, prog_m)
            end = min(last_m, month_of(last_expiry[i]) - 1)
            if death[i]:
                end = min(end, month_of(death[i]))
            if start <= end:
                recipients.append(Recipient(i, "DISABILITY", start, end, lao_of(p, i)))

    # The poor of the BMN survey: half the poor households are registered with the office.
    poor_households: set[int] = set()
    for year in SURVEY_YEARS:
        if year in POOR_SHARE_BY_YEAR and survey_day(year) < drops[0]:
            poor_households |= set(np.nonzero(income_per_head(p, year) < POVERTY_LINE)[0].tolist())
    hh_rng = rng_for(p.seed, "poor-registration")
    for h in sorted(poor_households):
        if hh_rng.random() < 0.5:
            day = date(2017, 3, 1).toordinal() + hh_rng.randrange(0, max(1, ref - date(2017, 3, 1).toordinal()))
            for i in p.households[h].members:
                if p.alive_on(i, day) and birth[i] < day:
                    enrol(i, "POOR", day)
                    if age_on(birth[i], day) < 18:
                        enrol(i, "CHILD", day)

    # Smaller groups, and the HIV allowance.
    other = rng_for(p.seed, "other-groups")
    for i in range(p.n):
        u = other.random()
        if u < 0.012:
            day = date(2012, 1, 1).toordinal() + other.randrange(0, ref - date(2012, 1, 1).toordinal())
            if not p.alive_on(i, day):
                continue
            age = age_on(birth[i], day)
            group = "YOUTH" if 15 <= age <= 25 else ("WOMEN" if p.sex[i] else "FAMILY")
            if u < 0.0003:
                group = "HOMELESS"
            enrol(i, group, day)
        elif u < 0.0135 and not death[i] and 20 <= age_on(birth[i], ref) <= 65:
            start = prog_m + other.randrange(0, max(1, last_m - prog_m))
            recipients.append(Recipient(i, "HIV", start, last_m, lao_of(p, i)))

    persons = []
    upd = rng_for(p.seed, "updates")
    for i in sorted(groups):
        reg = registered[i]
        persons.append(Person(i, groups[i], reg, reg + upd.randrange(0, max(1, ref - reg + 1))))
    _plant_person_defects(p, persons, recipients, drops, rates)
    return Registry(persons, recipients, cards, poor_households)


def _plant_person_defects(p: Province, persons: list[Person], recipients: list[Recipient], drops: list[int],
                          rates: dict[str, float]) -> None:
    rng = rng_for(p.seed, "semantic-defects")
    by_person = {t.i: t for t in persons}
    paid_elderly = {r.i for r in recipients if r.kind == "ELDERLY"}
    prog_m = 2016 * 12 + 9
    last_m = month_of(drops[-1] - 1)
    if rates.get("underage_elderly"):
        pool = [r for r in recipients if r.kind == "ELDERLY" and r.start >= prog_m + 7 and not p.death[r.i]]
        for r in rng.sample(pool, min(len(pool), max(1, round(rates["underage_elderly"] * len(pool))))):
            sixty = years_after(int(p.birth[r.i]), 60)
            first_eligible = month_of(sixty) + (0 if date.fromordinal(sixty).day == 1 else 1)
            r.early = rng.randint(1, 6)
            r.start = first_eligible - r.early  # the months before first_eligible are paid under 60
            by_person[r.i].protected = True
    if rates.get("paid_after_death"):
        pool = [r for r in recipients if r.kind in ("ELDERLY", "DISABILITY") and p.death[r.i]
                and r.end == month_of(int(p.death[r.i])) and r.end + 1 <= last_m and not r.early]
        for r in rng.sample(pool, min(len(pool), max(1, round(rates["paid_after_death"] * len(pool))))):
            r.after_death = min(rng.randint(1, 3), last_m - r.end)
            by_person[r.i].protected = True
    if rates.get("source_conflict"):
        pool = [t for t in persons if t.i not in paid_elderly and not t.protected]
        for t in rng.sample(pool, min(len(pool), max(1, round(rates["source_conflict"] * len(pool))))):
            t.conflict = rng.choice(("sex", "birth_date"))
            t.protected = True
    # Deleted at the source between nights: a few records of the small groups only.
    if len(drops) > 1:
        paid = {r.i for r in recipients}
        pool = [t for t in persons if not t.protected and t.i not in paid
                and set(t.groups) <= {"YOUTH", "WOMEN", "FAMILY", "HOMELESS"} and t.registered < drops[0]]
        for k in range(1, len(drops)):
            for t in rng.sample(pool, min(len(pool), max(1, len(persons) // 2000))):
                if t.deleted_from is None:
                    t.deleted_from = k
