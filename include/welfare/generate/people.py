"""Thai names, national ids and dates that look like the province's own."""

from __future__ import annotations

import random
from datetime import date, timedelta

from welfare.thai import national_id_check_digit

FIRST_NAMES_M = ["สมชาย", "สมศักดิ์", "ประเสริฐ", "วิชัย", "สุชาติ", "บุญมี", "ทองดี", "สมบัติ", "ชัยวัฒน์",
                 "อนันต์", "ประยุทธ", "สมพงษ์", "วีระ", "ธนากร", "กิตติพงษ์", "ณัฐวุฒิ", "สุรชัย", "มานพ"]
FIRST_NAMES_F = ["สมศรี", "มาลี", "สุนีย์", "วันเพ็ญ", "บุญเรือน", "ทองใบ", "ประภา", "อรุณี", "สายสุนีย์",
                 "กาญจนา", "พรทิพย์", "นงลักษณ์", "จันทร์เพ็ญ", "ศิริพร", "รัตนา", "ปราณี", "สุภาพร", "ลำดวน"]
LAST_NAMES = ["ใจดี", "ศรีสุข", "บุญมา", "ทองคำ", "แก้วมณี", "สุขเจริญ", "พรหมมา", "จันทร์หอม", "ประเสริฐศรี",
              "มั่นคง", "รุ่งเรือง", "เพชรรัตน์", "นาคสวัสดิ์", "ปานทอง", "อินทร์แก้ว", "เกตุแก้ว", "พึ่งบุญ",
              "วงศ์ใหญ่", "ทับทิม", "คงสวัสดิ์", "ชูศรี", "ภู่ระหงษ์", "เนียมหอม", "บัวเผื่อน"]
ORG_PREFIXES = ["ชมรมผู้สูงอายุ", "กลุ่มออมทรัพย์เพื่อการผลิต", "มูลนิธิ", "สมาคม", "กลุ่มอาสาสมัคร",
                "ศูนย์พัฒนาครอบครัวในชุมชน", "สภาองค์กรชุมชน", "ชมรมคนพิการ", "กลุ่มสตรี", "วิสาหกิจชุมชน"]


def national_id(rng: random.Random, district_code: str, kind: int | None = None) -> str:
    """A valid 13-digit id registered at a Nakhon Sawan office (digits 2-5 = 60DD)."""
    first = kind if kind is not None else rng.choice((1, 1, 1, 3, 3, 5, 8))
    body = f"{first}{district_code}{rng.randrange(10**7):07d}"
    return body + str(national_id_check_digit(body))


def invalid_national_id(valid: str) -> str:
    """The same id with a wrong check digit."""
    wrong = (int(valid[12]) + 1 + int(valid[11]) % 8) % 10
    if wrong == int(valid[12]):
        wrong = (wrong + 1) % 10
    return valid[:12] + str(wrong)


def person_name(rng: random.Random, sex: str) -> tuple[str, str, str]:
    if sex == "ชาย":
        return "นาย", rng.choice(FIRST_NAMES_M), rng.choice(LAST_NAMES)
    return rng.choice(("นาง", "นางสาว")), rng.choice(FIRST_NAMES_F), rng.choice(LAST_NAMES)


def date_between(rng: random.Random, start: date, end: date) -> date:
    if end <= start:
        return start
    return start + timedelta(days=rng.randrange((end - start).days + 1))
