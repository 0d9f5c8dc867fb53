"""Deterministic synthetic demo data: the same seed gives the same workers, NIKs and enrollments.

Every name, NIK, family-card number, phone and address is generated; none belongs to a real person.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.rules.billing import due_date
from api.rules.contributions import monthly_contribution
from db.models import (
    BillStatus,
    ContributionBill,
    Enrollment,
    EnrollmentStatus,
    FundingSource,
    Kelurahan,
    Occupation,
    RejectionReason,
    Sex,
    TerminationReason,
    VerificationCheck,
    VerificationCheckKind,
    Worker,
)
from db.scoping import RowScope, set_scope

DEFAULT_WORKERS = 9_038
SOURCE_CODE = "DBHCHT-2025"
COVERAGE_START, COVERAGE_END = date(2025, 4, 1), date(2025, 12, 31)
TERMINATED_ON = date(2025, 7, 31)

OCCUPATIONS: list[tuple[Occupation, int]] = [
    (Occupation.SMALL_TRADER, 20),
    (Occupation.WARUNG_OWNER, 14),
    (Occupation.STREET_VENDOR, 14),
    (Occupation.MOSQUE_CARETAKER, 5),
    (Occupation.CARPENTER, 8),
    (Occupation.CONSTRUCTION_LABOURER, 8),
    (Occupation.MOTORCYCLE_TAXI_DRIVER, 6),
    (Occupation.BECAK_DRIVER, 5),
    (Occupation.FISHER, 7),
    (Occupation.FARM_LABOURER, 4),
    (Occupation.DOMESTIC_WORKER, 4),
    (Occupation.RELIGIOUS_TEACHER, 3),
    (Occupation.OTHER, 2),
]
MALE = [
    "Ahmad",
    "Budi",
    "Slamet",
    "Sugeng",
    "Agus",
    "Hadi",
    "Imam",
    "Abdul",
    "Rudi",
    "Eko",
    "Joko",
    "Bambang",
    "Samsul",
    "Yusuf",
    "Heri",
    "Mochamad",
    "Sholeh",
    "Arif",
    "Dwi",
    "Fauzi",
    "Hasan",
    "Kholil",
    "Wahyu",
]
FEMALE = [
    "Siti",
    "Sri",
    "Nur",
    "Dewi",
    "Sumiati",
    "Lestari",
    "Endang",
    "Rina",
    "Yuli",
    "Fatimah",
    "Aminah",
    "Khotijah",
    "Sulastri",
    "Wulan",
    "Umi",
    "Ratna",
    "Maimunah",
    "Tutik",
    "Mariyam",
    "Indah",
]
SECOND = [
    "Hidayat",
    "Santoso",
    "Wahyudi",
    "Rohman",
    "Susanto",
    "Prasetyo",
    "Setiawan",
    "Maulana",
    "Hasanah",
    "Rahmawati",
    "Ningsih",
    "Handayani",
    "Mulyono",
    "Hariyanto",
    "Syafii",
    "Zainal",
    "Anwar",
    "Jamilah",
    "Fadilah",
    "Purnomo",
    "Sutrisno",
    "Kurniawan",
]
STREETS = [
    "Jl. Hasanudin",
    "Jl. Panglima Sudirman",
    "Jl. Soekarno Hatta",
    "Jl. Veteran",
    "Jl. Pahlawan",
    "Jl. Gatot Subroto",
    "Jl. Sultan Agung",
    "Jl. Diponegoro",
    "Jl. Kyai Sepuh",
    "Jl. Untung Suropati",
    "Gang Mawar",
    "Gang Melati",
    "Jl. Nusantara",
    "Jl. Halmahera",
    "Jl. Slamet Riyadi",
]
# Where the NIK was first issued: mostly Kota Pasuruan, some the regency around it or elsewhere in Jatim.
ISSUING = [("357501", 22), ("357502", 22), ("357503", 20), ("357504", 22), ("351412", 6), ("351417", 4), ("357301", 4)]


@dataclass
class SeedReport:
    workers: int
    enrollments: dict[str, int]
    bills: int


def _weighted(rng: random.Random, pairs: list[tuple[object, int]]) -> object:
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


def synthetic_nik(rng: random.Random, birth: date, sex: Sex, taken: set[str]) -> str:
    region = str(_weighted(rng, ISSUING))  # type: ignore[arg-type]
    day = birth.day + (40 if sex == Sex.FEMALE else 0)
    while True:
        nik = f"{region}{day:02d}{birth.month:02d}{birth.year % 100:02d}{rng.randint(1, 9999):04d}"
        if nik not in taken:
            taken.add(nik)
            return nik


def _status_plan(n: int) -> list[EnrollmentStatus | None]:
    """Enrollments in every status: most active, as the programme was in April 2025."""
    s = EnrollmentStatus
    plan: list[EnrollmentStatus | None] = []
    shares = [(s.PROPOSED, 0.02), (s.REJECTED, 0.012), (s.LAPSED, 0.01), (s.TERMINATED, 0.008)]
    for status, share in shares:
        plan += [status] * max(1, round(n * share))
    plan += [None] * max(0, round(n * 0.01))  # registered, not yet proposed
    plan += [s.ACTIVE] * max(0, n - len(plan))
    return plan[:n]


async def seed(engine: AsyncEngine, *, workers: int = DEFAULT_WORKERS, seed_value: int = 2025) -> SeedReport:
    rng = random.Random(seed_value)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        set_scope(session, RowScope.for_operator("rentan-seed"))
        async with session.begin():
            kelurahan = list(await session.scalars(select(Kelurahan).order_by(Kelurahan.code)))
            # Larger kelurahan get more workers: a fixed synthetic weight per kelurahan.
            weights = [rng.randint(60, 140) for _ in kelurahan]
            source = FundingSource(
                code=SOURCE_CODE,
                name="Dana Bagi Hasil Cukai Hasil Tembakau 2025 - jaminan sosial pekerja rentan",
                fiscal_year=2025,
                legal_basis="Keputusan Wali Kota (demo data)",
                coverage_start=COVERAGE_START,
                coverage_end=COVERAGE_END,
                allocated=2_000_000_000,
                region_code="3575",
                funded_monthly_income=1_000_000,
            )
            session.add(source)
            await session.flush()
            contribution = monthly_contribution(source.funded_monthly_income, COVERAGE_START)
            taken: set[str] = set()
            registered = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
            rows = []
            for i in range(workers):
                sex = Sex.FEMALE if rng.random() < 0.46 else Sex.MALE
                birth = date(1960, 1, 1) + timedelta(days=rng.randint(0, 365 * 47))
                # Every kelurahan gets residents first, then the rest go by weight.
                kel = kelurahan[i] if i < len(kelurahan) else rng.choices(kelurahan, weights=weights)[0]
                first = rng.choice(FEMALE if sex == Sex.FEMALE else MALE)
                rows.append(
                    dict(
                        nik=synthetic_nik(rng, birth, sex, taken),
                        full_name=f"{first} {rng.choice(SECOND)}",
                        birth_date=birth,
                        sex=sex,
                        occupation=_weighted(rng, OCCUPATIONS),  # type: ignore[arg-type]
                        monthly_income=rng.choice([600_000, 800_000, 1_000_000, 1_200_000, 1_500_000, 2_000_000]),
                        kelurahan_code=kel.code,
                        phone=f"08{rng.choice(['12', '13', '21', '52', '57', '77', '95'])}"
                        f"{rng.randint(10_000_000, 99_999_999)}",
                        address=f"{rng.choice(STREETS)} No. {rng.randint(1, 120)}, RT {rng.randint(1, 9):03d}/RW "
                        f"{rng.randint(1, 6):03d}, {kel.name}",
                        family_card_number=f"{kel.code[:6]}{rng.randint(10**7, 10**8 - 1)}{rng.randint(1, 99):02d}",
                        registered_at=registered + timedelta(minutes=i),
                        registered_by="rentan-seed",
                    )
                )
            await session.execute(insert(Worker), rows)
            worker_ids = list(await session.scalars(select(Worker.id).order_by(Worker.id)))
            plan = _status_plan(len(worker_ids))
            rng.shuffle(plan)
            kpj = rng.sample(range(10**10, 10**11), k=len(worker_ids))
            enrollments = []
            for n, (wid, status) in enumerate(zip(worker_ids, plan, strict=True)):
                if status is None:
                    continue
                verified = status not in (EnrollmentStatus.PROPOSED,)
                active_like = status in (EnrollmentStatus.ACTIVE, EnrollmentStatus.LAPSED, EnrollmentStatus.TERMINATED)
                enrollments.append(
                    dict(
                        worker_id=wid,
                        funding_source_id=source.id,
                        status=status,
                        programmes="JKK,JKM",
                        membership_number=str(kpj[n]) if active_like else None,
                        coverage_start=COVERAGE_START if active_like else None,
                        # A termination's day is its coverage's last (api/services/enrollments.py, terminate).
                        coverage_end=(TERMINATED_ON if status == EnrollmentStatus.TERMINATED else COVERAGE_END)
                        if active_like
                        else None,
                        monthly_contribution=contribution,
                        proposed_at=datetime(2025, 3, 10, 2, 0, tzinfo=UTC),
                        proposed_by="rentan-seed",
                        verified_at=datetime(2025, 3, 24, 3, 0, tzinfo=UTC) if verified else None,
                        verified_by="bpjstk-seed" if verified else None,
                        rejection_reason=rng.choice([RejectionReason.ALREADY_ENROLLED, RejectionReason.NIK_NOT_FOUND])
                        if status == EnrollmentStatus.REJECTED
                        else None,
                        termination_reason=rng.choice(
                            [
                                TerminationReason.DECEASED,
                                TerminationReason.MOVED_OUT,
                                TerminationReason.BECAME_WAGE_EARNER,
                            ]
                        )
                        if status == EnrollmentStatus.TERMINATED
                        else None,
                        terminated_on=TERMINATED_ON if status == EnrollmentStatus.TERMINATED else None,
                    )
                )
            await session.execute(insert(Enrollment), enrollments)
            verified_rows = (
                await session.execute(
                    select(Enrollment.id, Enrollment.status).where(Enrollment.verified_at.is_not(None))
                )
            ).all()
            checks = [
                dict(
                    enrollment_id=eid,
                    kind=kind,
                    passed=not (
                        status == EnrollmentStatus.REJECTED and kind == VerificationCheckKind.EXISTING_MEMBERSHIP
                    ),
                    note=None,
                    checked_at=datetime(2025, 3, 24, 3, 0, tzinfo=UTC),
                )
                for eid, status in verified_rows
                for kind in VerificationCheckKind
            ]
            if checks:
                await session.execute(insert(VerificationCheck), checks)
            bills = _bills(source.id, enrollments, contribution)
            if bills:
                await session.execute(insert(ContributionBill), bills)
            by_status: dict[str, int] = {}
            for e in enrollments:
                by_status[str(e["status"])] = by_status.get(str(e["status"]), 0) + 1
            return SeedReport(workers=len(rows), enrollments=by_status, bills=len(bills))


def _bills(source_id: int, enrollments: list[dict[str, object]], contribution: int) -> list[dict[str, object]]:
    """April to September 2025 billed; April to August paid, September left open (and overdue)."""
    bills = []
    for month in range(4, 10):
        start = date(2025, month, 1)
        covered = len([e for e in enrollments if _covered(e, start)])
        paid = month <= 8
        issued = datetime(2025, month, 2, 2, 0, tzinfo=UTC)
        bills.append(
            dict(
                funding_source_id=source_id,
                period=f"2025-{month:02d}",
                participants=covered,
                amount=covered * contribution,
                status=BillStatus.PAID if paid else BillStatus.ISSUED,
                due_date=due_date(start),
                issued_at=issued,
                issued_by="bpjstk-seed",
                paid_at=issued + timedelta(days=8) if paid else None,
                paid_amount=covered * contribution if paid else None,
                paid_by="pemkot-seed" if paid else None,
            )
        )
    return bills


def _covered(e: dict[str, object], start: date) -> bool:
    status, ended = e["status"], e["terminated_on"]
    if status == EnrollmentStatus.TERMINATED:
        return isinstance(ended, date) and ended >= start
    # Lapsed members were covered until their bills went unpaid (from July on).
    return status == EnrollmentStatus.ACTIVE or (status == EnrollmentStatus.LAPSED and start.month <= 6)


async def is_empty(engine: AsyncEngine) -> bool:
    async with AsyncSession(engine) as session:
        set_scope(session, RowScope.for_operator())
        return not await session.scalar(select(func.count(Worker.id)))
