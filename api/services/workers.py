"""Use-cases of the worker registry: register, update, find."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from api.context import Context
from api.errors import Problem, Refused, not_found
from api.ids import require_id, to_global_id
from api.messages import msg
from api.rules import validation
from api.rules.lifecycle import check_has_happened
from api.rules.nik import nik_problems, nik_warnings
from api.services import nik_lookups
from db.base import utcnow
from db.models import (
    Enrollment,
    EnrollmentStatus,
    IdempotencyKey,
    Kelurahan,
    Occupation,
    Sex,
    Worker,
    WorkerMove,
)
from db.scoping import RowScope

REGISTER = "registerWorker"


def insert_ignoring_conflict(
    dialect: str, model: type[Any], values: dict[str, Any], conflict: list[str], *, returning: Any = None
) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id (or ``returning``: the entity itself, as an ORM object):
    atomic under concurrency on both databases."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(model).values(**values).on_conflict_do_nothing(index_elements=conflict)
    return stmt.returning(model.id if returning is None else returning)


def workers_query(
    *,
    kelurahan_code: str | None = None,
    kecamatan_code: str | None = None,
    occupation: Occupation | None = None,
    enrollment_status: EnrollmentStatus | None = None,
    name_contains: str | None = None,
) -> Select[Worker]:
    """Workers matching a filter. Scope is not applied here: the session applies it to every statement."""
    stmt = select(Worker)
    if kelurahan_code is not None:
        stmt = stmt.where(Worker.kelurahan_code == kelurahan_code)
    if kecamatan_code is not None:
        stmt = stmt.where(Worker.kelurahan_code.startswith(kecamatan_code, autoescape=True))
    if occupation is not None:
        stmt = stmt.where(Worker.occupation == occupation)
    if enrollment_status is not None:
        stmt = stmt.where(exists().where(Enrollment.worker_id == Worker.id, Enrollment.status == enrollment_status))
    if name_contains:
        stmt = stmt.where(Worker.full_name.icontains(name_contains, autoescape=True))
    return stmt


async def visible_worker(ctx: Context, worker_id: int, field: str = "id") -> Worker:
    worker = await ctx.loaders.worker_by_id.load(worker_id)
    if worker is None:
        raise Refused(not_found(field, msg("worker")))
    return worker


async def by_nik(ctx: Context, nik: str, *, masked: bool) -> Worker | None:
    """The worker holding this full NIK within the caller's scope, else None.

    ``masked``: the caller sees NIKs masked (the resolver decides, from what reading a full NIK needs). For it a
    lookup is the way to confirm a guessed NIK, so each one is audited (``worker.nik:lookup``: the worker found,
    or none; ``hit``, ``miss``, ``malformed`` or ``refused``, never the NIK) and its misses are limited
    (api/services/nik_lookups.py): past the limit, MissesExhausted is raised before anything is looked up."""
    if not masked:
        return None if nik_problems(nik) else await _holder_of(ctx, nik)
    if nik_problems(nik):  # the rules of a NIK are public: a malformed one tells nothing, and costs nothing
        _audit_lookup(ctx, None, "malformed")
        return None
    limit = nik_lookups.miss_limit(ctx)
    if limit is not None:
        try:
            await limit.reserve(ctx.principal.subject)
        except nik_lookups.MissesExhausted:
            _audit_lookup(ctx, None, "refused")
            raise
    worker = await _holder_of(ctx, nik)
    if worker is not None and limit is not None:
        await limit.give_back(ctx.principal.subject)
    _audit_lookup(ctx, worker, "hit" if worker is not None else "miss")
    return worker


async def _holder_of(ctx: Context, nik: str) -> Worker | None:
    rows = await ctx.db.scalars(select(Worker).where(Worker.nik == nik))
    return rows[0] if rows else None


def _audit_lookup(ctx: Context, worker: Worker | None, outcome: str) -> None:
    """In the found worker's kelurahan; without one, in the caller's own (first) region."""
    ctx.audit(
        nik_lookups.LOOKUP,
        target_id=to_global_id("Worker", worker.id) if worker is not None else None,
        region_code=worker.kelurahan_code if worker is not None else ctx.principal.scope[0],
        detail=outcome,
    )


async def _visible_kelurahan(ctx: Context, code: str, field: str) -> Kelurahan:
    problems = validation.region_code(code, field, 10)
    if problems:
        raise Refused(*problems)
    kelurahan = await ctx.loaders.kelurahan_by_code.load(code)
    if kelurahan is None:
        raise Refused(Problem("OUT_OF_SCOPE", msg("{field}: not a kelurahan within your scope.", field=field), field))
    return kelurahan


def _contact_problems(phone: str | None, address: str | None, kk: str | None) -> list[Problem]:
    problems: list[Problem] = []
    if phone is not None:
        problems += validation.phone(phone)
    if address is not None:
        problems += validation.text(address, "address", max_length=300, required=False)
    if kk is not None:
        problems += validation.family_card_number(kk)
    return problems


async def register(
    ctx: Context,
    *,
    nik: str,
    full_name: str,
    birth_date: date,
    sex: Sex,
    occupation: Occupation,
    monthly_income: int,
    kelurahan_code: str,
    phone: str | None,
    address: str | None,
    family_card_number: str | None,
    idempotency_key: str | None,
    today: date,
) -> tuple[Worker, list[Problem]]:
    """Register a resident. Returns the worker and soft warnings; raises Refused with every broken rule."""
    if idempotency_key is not None:
        # Validated before it is looked up: a NUL or an absurd length must not reach the database driver.
        key_problems = validation.text(idempotency_key, "idempotencyKey", max_length=200)
        if key_problems:
            raise Refused(*key_problems)
        previous = await _replay(ctx, idempotency_key)
        if previous is not None:
            return previous, []

    problems = nik_problems(nik)
    problems += validation.text(full_name, "fullName", max_length=120)
    if birth_date > today or birth_date.year < 1900:
        problems.append(Problem("INVALID_DATE", msg("birthDate: must be a past date after 1900."), "birthDate"))
    problems += _contact_problems(phone, address, family_card_number)
    if problems:
        raise Refused(*problems)
    kelurahan = await _visible_kelurahan(ctx, kelurahan_code, "kelurahanCode")
    warnings = nik_warnings(nik, birth_date, female=sex == Sex.FEMALE)

    if idempotency_key is not None:
        # Claim the key first: a concurrent retry with the same key waits here, then replays our result.
        claim = insert_ignoring_conflict(
            ctx.db.dialect,
            IdempotencyKey,
            {"subject": ctx.principal.subject, "operation": REGISTER, "key": idempotency_key},
            ["subject", "operation", "key"],
        )
        if (await ctx.db.execute(claim)).scalar() is None:
            previous = await _replay(ctx, idempotency_key)
            if previous is not None:
                return previous, []
            raise Refused(
                Problem(
                    "IDEMPOTENCY_CONFLICT", msg("idempotencyKey: in use by a request that failed."), "idempotencyKey"
                )
            )

    values = dict(
        nik=nik,
        full_name=full_name.strip(),
        birth_date=birth_date,
        sex=sex,
        occupation=occupation,
        monthly_income=monthly_income,
        kelurahan_code=kelurahan.code,
        phone=phone,
        address=address,
        family_card_number=family_card_number,
        registered_by=ctx.principal.subject,
    )
    # The new row comes back from the INSERT itself (RETURNING the entity): no second statement to read it.
    inserted = await ctx.db.scalars(insert_ignoring_conflict(ctx.db.dialect, Worker, values, ["nik"], returning=Worker))
    if not inserted:
        # Said the same way whoever holds the NIK: which kelurahan has it is not the caller's to know.
        raise Refused(Problem("DUPLICATE_NIK", msg("nik: a worker with this NIK is already registered."), "nik"))
    [worker] = inserted
    if idempotency_key is not None:
        await ctx.db.execute(
            sql_update(IdempotencyKey)
            .where(
                IdempotencyKey.subject == ctx.principal.subject,
                IdempotencyKey.operation == REGISTER,
                IdempotencyKey.key == idempotency_key,
            )
            .values(target_id=worker.id)
        )
    ctx.audit(
        "worker:create",
        target_id=to_global_id("Worker", worker.id),
        region_code=worker.kelurahan_code,
        detail=f"kelurahan={worker.kelurahan_code}",
    )
    return worker, warnings


async def _replay(ctx: Context, key: str) -> Worker | None:
    rows = await ctx.db.scalars(
        select(IdempotencyKey).where(IdempotencyKey.operation == REGISTER, IdempotencyKey.key == key)
    )
    if not rows or rows[0].target_id is None:
        return None
    worker = await ctx.loaders.worker_by_id.load(rows[0].target_id)
    if worker is None:
        raise Refused(not_found("idempotencyKey", msg("worker")))
    return worker


async def update(ctx: Context, worker_gid: str, changes: dict[str, Any]) -> Worker:
    """Correct a worker's record. Only the fields given change; the NIK and birth date never do here."""
    worker = await visible_worker(ctx, require_id(worker_gid, "Worker", "id"))
    problems: list[Problem] = []
    if "full_name" in changes:
        problems += validation.text(changes["full_name"], "fullName", max_length=120)
    problems += _contact_problems(changes.get("phone"), changes.get("address"), None)
    if problems:
        raise Refused(*problems)
    destination = changes.pop("kelurahan_code", None)
    if destination is not None and destination != worker.kelurahan_code:
        # A change of kelurahan is a move, whichever mutation asks for it: one rule, one history, one audit.
        await move(ctx, worker, destination, ctx.today, field="kelurahanCode")
    if not changes:
        return worker
    before_region = worker.kelurahan_code
    for name, value in changes.items():
        setattr(worker, name, value.strip() if name == "full_name" else value)
    worker.updated_at = utcnow()
    await ctx.db.flush()
    fields = ",".join(sorted(changes))
    ctx.audit(
        "worker:update",
        target_id=to_global_id("Worker", worker.id),
        region_code=before_region,
        detail=f"fields={fields}",
    )
    return worker


async def move(ctx: Context, worker: Worker, to_code: str, effective: date, *, field: str) -> WorkerMove:
    """Move a visible worker to another kelurahan of the same city, with their enrollments and history.

    The origin office (or the city) records the move: it knows the resident left, and the destination may
    not yet know them. The destination need not be in the mover's scope, and the mover loses sight of the
    worker afterwards, since the worker's kelurahan is what scopes the worker, its enrollments and checks
    (db/scoping.py). Moving out of the city is not a move: the coverage ends (terminate, MOVED_OUT)."""
    problems = validation.region_code(to_code, field, 10)
    if problems:
        raise Refused(*problems)
    origin = worker.kelurahan_code
    if to_code == origin:
        raise Refused(
            Problem(
                "SAME_KELURAHAN", msg("{field}: the worker already lives in {code}.", field=field, code=to_code), field
            )
        )
    city = origin[:4]
    # The destination's existence is checked over the city's reference rows, as a count: no row leaves.
    (exists_in_city,) = await ctx.db.aggregate_within(
        RowScope(region_codes=(city,), subject=ctx.principal.subject),
        select(func.count(Kelurahan.id)).where(Kelurahan.code == to_code),
    )
    if not exists_in_city:
        raise Refused(
            Problem(
                "OUTSIDE_CITY",
                msg(
                    "{field}: not a kelurahan of this city ({city}); moving out of the city ends coverage "
                    "(terminateEnrollment with MOVED_OUT).",
                    field=field,
                    city=city,
                ),
                field,
            )
        )
    check_has_happened(effective, ctx.today, msg("a move"))
    last = await ctx.db.scalar(select(func.max(WorkerMove.effective_date)).where(WorkerMove.worker_id == worker.id))
    if last is not None and effective < last:
        raise Refused(
            Problem(
                "OUT_OF_ORDER",
                msg("effectiveDate: before the worker's last move ({last}).", last=last),
                "effectiveDate",
            )
        )
    record = WorkerMove(
        worker_id=worker.id,
        from_kelurahan_code=origin,
        to_kelurahan_code=to_code,
        effective_date=effective,
        recorded_by=ctx.principal.subject,
    )
    ctx.db.add(record)
    worker.kelurahan_code = to_code
    worker.updated_at = utcnow()
    await ctx.db.flush()
    target = to_global_id("Worker", worker.id)
    detail = f"from={origin};to={to_code};effective={effective.isoformat()}"
    # One event in each kelurahan's trail: the origin's shows who left, the destination's who arrived.
    ctx.audit("worker:move", target_id=target, region_code=origin, detail=detail)
    ctx.audit("worker:move", target_id=target, region_code=to_code, detail=detail)
    return record
