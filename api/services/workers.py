"""Use-cases of the worker registry: register, update, find."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, select
from sqlalchemy import delete as sql_delete
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
    dialect: str, model: type[Any], values: dict[str, Any] | None, conflict: list[str], *, returning: Any = None
) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id (or ``returning``: the entity itself, as an ORM object):
    atomic under concurrency on both databases. ``values`` None: the rows come as the execution's parameters
    (one statement for many rows)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(model)
    if values is not None:
        stmt = stmt.values(**values)
    return stmt.on_conflict_do_nothing(index_elements=conflict).returning(model.id if returning is None else returning)


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


def by_nik_query(nik: Any) -> Select[Worker]:
    """The worker holding a full NIK (a value or a bound parameter); the session scopes it."""
    return select(Worker).where(Worker.nik == nik)


async def _holder_of(ctx: Context, nik: str) -> Worker | None:
    rows = await ctx.db.scalars(by_nik_query(nik))
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


async def _visible_kelurahans(ctx: Context, codes: set[str], field: str) -> dict[str, Kelurahan | Refused]:
    """``_visible_kelurahan`` for several codes at once (one loader batch)."""

    async def one(code: str) -> Kelurahan | Refused:
        try:
            return await _visible_kelurahan(ctx, code, field)
        except Refused as refused:
            return refused

    ordered = sorted(codes)
    return dict(zip(ordered, await asyncio.gather(*(one(c) for c in ordered)), strict=True))


def _contact_problems(phone: str | None, address: str | None, kk: str | None) -> list[Problem]:
    problems: list[Problem] = []
    if phone is not None:
        problems += validation.phone(phone)
    if address is not None:
        problems += validation.text(address, "address", max_length=300, required=False)
    if kk is not None:
        problems += validation.family_card_number(kk)
    return problems


@dataclass(frozen=True)
class Registration:
    """One resident to register: an item of ``registerWorkers``, or ``registerWorker``'s input."""

    nik: str
    full_name: str
    birth_date: date
    sex: Sex
    occupation: Occupation
    monthly_income: int
    kelurahan_code: str
    phone: str | None = None
    address: str | None = None
    family_card_number: str | None = None
    idempotency_key: str | None = None


@dataclass
class Registered:
    """An item's outcome: the worker (registered now, or earlier under the same idempotency key) with its soft
    warnings, or, when ``worker`` is None, every rule it broke."""

    worker: Worker | None
    warnings: list[Problem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _refused(*problems: Problem) -> Registered:
    return Registered(None, problems=list(problems))


async def register_many(ctx: Context, items: Sequence[Registration], *, today: date) -> list[Registered]:
    """Register residents; each item succeeds or fails alone, and the outcomes come back in input order. The one
    path of registration: ``registerWorker`` is a batch of one.

    Set-based: a round costs a handful of statements whatever its size (the idempotency keys looked up, claimed
    and pointed at their workers; the workers inserted), where an item at a time cost seven and a savepoint, about
    5 ms a row (issue 13's measurement). An item that repeats an earlier item's NIK or key waits for a later round,
    so that it meets the earlier one's result in the database exactly as it would have one request later: the
    same key replays the first worker, the same NIK is a DUPLICATE_NIK. Nothing is written for an item that fails.
    The caller runs the whole in one savepoint: an unexpected error undoes all of it."""
    outcomes: list[Registered | None] = [None] * len(items)
    for indexes in _rounds(items):
        for i, outcome in (await _register_round(ctx, [(i, items[i]) for i in indexes], today)).items():
            outcomes[i] = outcome
    done = [o for o in outcomes if o is not None]
    assert len(done) == len(items)  # every round answers each of its items
    return done


def _rounds(items: Sequence[Registration]) -> list[list[int]]:
    """Item indexes in rounds: an item goes one round after the last earlier item sharing its NIK or its key."""
    last: dict[tuple[str, str], int] = {}
    rounds: list[list[int]] = []
    for i, item in enumerate(items):
        marks = [("nik", item.nik)]
        if item.idempotency_key is not None:
            marks.append(("key", item.idempotency_key))
        at = max((last[m] + 1 for m in marks if m in last), default=0)
        for m in marks:
            last[m] = at
        if at == len(rounds):
            rounds.append([])
        rounds[at].append(i)
    return rounds


def _item_problems(item: Registration, today: date) -> list[Problem]:
    """The rules an item breaks on its own (the kelurahan's scope and the NIK's uniqueness are the database's)."""
    problems = nik_problems(item.nik)
    problems += validation.text(item.full_name, "fullName", max_length=120)
    if item.birth_date > today or item.birth_date.year < 1900:
        problems.append(Problem("INVALID_DATE", msg("birthDate: must be a past date after 1900."), "birthDate"))
    problems += _contact_problems(item.phone, item.address, item.family_card_number)
    return problems


async def _register_round(ctx: Context, items: list[tuple[int, Registration]], today: date) -> dict[int, Registered]:
    """One round: no two items share a NIK or a key."""
    out: dict[int, Registered] = {}
    by_key: dict[str, int] = {}
    for i, item in items:
        if item.idempotency_key is not None:
            # Validated before it is looked up: a NUL or an absurd length must not reach the database driver.
            key_problems = validation.text(item.idempotency_key, "idempotencyKey", max_length=200)
            if key_problems:
                out[i] = _refused(*key_problems)
            else:
                by_key[item.idempotency_key] = i
    for key, replayed in (await _replays(ctx, list(by_key))).items():
        out[by_key.pop(key)] = replayed

    valid: list[tuple[int, Registration]] = []
    for i, item in items:
        if i in out:
            continue
        problems = _item_problems(item, today)
        if problems:
            out[i] = _refused(*problems)
        else:
            valid.append((i, item))
    kelurahan = await _visible_kelurahans(ctx, {item.kelurahan_code for _, item in valid}, "kelurahanCode")
    ready: list[tuple[int, Registration, Kelurahan]] = []
    for i, item in valid:
        found = kelurahan[item.kelurahan_code]
        if isinstance(found, Refused):
            out[i] = _refused(*found.problems)
        else:
            ready.append((i, item, found))

    # Claim the keys first: a concurrent retry with the same key waits on its claim, then replays our result.
    keys = [item.idempotency_key for i, item, _ in ready if item.idempotency_key is not None and i not in out]
    claimed = await _claim(ctx, keys)
    unclaimed = [key for key in keys if key not in claimed]
    if unclaimed:
        replays = await _replays(ctx, unclaimed)
        conflict = Problem(
            "IDEMPOTENCY_CONFLICT", msg("idempotencyKey: in use by a request that failed."), "idempotencyKey"
        )
        for key in unclaimed:
            out[by_key[key]] = replays.get(key) or _refused(conflict)
    ready = [(i, item, k) for i, item, k in ready if i not in out]

    rows = [
        dict(
            nik=item.nik,
            full_name=item.full_name.strip(),
            birth_date=item.birth_date,
            sex=item.sex,
            occupation=item.occupation,
            monthly_income=item.monthly_income,
            kelurahan_code=k.code,
            phone=item.phone,
            address=item.address,
            family_card_number=item.family_card_number,
            registered_by=ctx.principal.subject,
        )
        for _, item, k in ready
    ]
    # The new rows come back from the INSERT itself (RETURNING the entities): no statement to read them again.
    inserted = {w.nik: w for w in await _insert_workers(ctx, rows)}
    targets: dict[str, int] = {}
    released: list[str] = []
    for i, item, _ in ready:
        worker = inserted.get(item.nik)
        if worker is None:
            # Said the same way whoever holds the NIK: which kelurahan has it is not the caller's to know.
            taken = msg("nik: a worker with this NIK is already registered.")
            out[i] = _refused(Problem("DUPLICATE_NIK", taken, "nik"))
            if item.idempotency_key is not None:
                released.append(item.idempotency_key)
            continue
        out[i] = Registered(worker, nik_warnings(item.nik, item.birth_date, female=item.sex == Sex.FEMALE))
        if item.idempotency_key is not None:
            targets[item.idempotency_key] = worker.id
        ctx.audit(
            "worker:create",
            target_id=to_global_id("Worker", worker.id),
            region_code=worker.kelurahan_code,
            detail=f"kelurahan={worker.kelurahan_code}",
        )
    await _settle_keys(ctx, targets, released)
    return out


def _own_keys(keys: Iterable[str]) -> ColumnElement[bool]:
    """Registration's keys among ``keys``. Whose they are is the session's row scope (IdempotencyKey is
    OwnedBySubject, db/scoping.py), as for every statement: not restated here."""
    return and_(IdempotencyKey.operation == REGISTER, IdempotencyKey.key.in_(list(keys)))


async def _replays(ctx: Context, keys: list[str]) -> dict[str, Registered]:
    """The result each of ``keys`` produced before (a worker, or NOT_FOUND when it has left the caller's
    scope); keys that produced nothing yet are absent."""
    if not keys:
        return {}
    rows = await ctx.db.scalars(select(IdempotencyKey).where(_own_keys(keys)))
    done = {row.key: row.target_id for row in rows if row.target_id is not None}
    found = await ctx.loaders.worker_by_id.load_many(list(done.values()))
    by_id = {w.id: w for w in found if w is not None}
    return {
        key: Registered(by_id[target]) if target in by_id else _refused(not_found("idempotencyKey", msg("worker")))
        for key, target in done.items()
    }


async def _claim(ctx: Context, keys: list[str]) -> set[str]:
    """Claim ``keys`` for the caller (in key order: concurrent batches lock alike); those claimed now."""
    if not keys:
        return set()
    subject = ctx.principal.subject
    conflict = ["subject", "operation", "key"]
    claim = insert_ignoring_conflict(ctx.db.dialect, IdempotencyKey, None, conflict, returning=IdempotencyKey.key)
    rows = [{"subject": subject, "operation": REGISTER, "key": key} for key in sorted(keys)]
    return set(await ctx.db.scalars(claim, rows))


async def _insert_workers(ctx: Context, rows: list[dict[str, Any]]) -> Sequence[Worker]:
    """The workers of ``rows`` that were inserted (a NIK already registered is skipped), in NIK order."""
    if not rows:
        return []
    if len(rows) == 1:  # registerWorker: a plain INSERT costs less than the ORM's bulk path for one row
        one = insert_ignoring_conflict(ctx.db.dialect, Worker, rows[0], ["nik"], returning=Worker)
        return await ctx.db.scalars(one)
    stmt = insert_ignoring_conflict(ctx.db.dialect, Worker, None, ["nik"], returning=Worker)
    return await ctx.db.scalars(stmt, sorted(rows, key=lambda r: str(r["nik"])))


async def _settle_keys(ctx: Context, targets: dict[str, int], released: list[str]) -> None:
    """Point each claimed key at the worker it produced; drop the claims of items that failed after claiming."""
    if targets:
        await ctx.db.execute(
            sql_update(IdempotencyKey)
            .where(_own_keys(targets))
            .values(target_id=case(targets, value=IdempotencyKey.key))
            .execution_options(synchronize_session=False)
        )
    if released:
        await ctx.db.execute(
            sql_delete(IdempotencyKey).where(_own_keys(released)).execution_options(synchronize_session=False)
        )


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
