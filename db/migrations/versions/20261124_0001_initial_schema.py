"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 11:08:15.116347
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("agency", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("target_id", sa.String(length=120), nullable=True),
        sa.Column("region_code", sa.String(length=10), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_region_code"), ["region_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_target_id"), ["target_id"], unique=False)

    op.create_table(
        "cities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=4), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cities")),
        sa.UniqueConstraint("code", name=op.f("uq_cities_code")),
    )
    op.create_table(
        "funding_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("legal_basis", sa.String(length=200), nullable=True),
        sa.Column("coverage_start", sa.Date(), nullable=True),
        sa.Column("coverage_end", sa.Date(), nullable=True),
        sa.Column("allocated", sa.BigInteger(), nullable=False),
        sa.Column("region_code", sa.String(length=10), nullable=False),
        sa.Column("funded_monthly_income", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_sources")),
        sa.UniqueConstraint("code", name=op.f("uq_funding_sources_code")),
    )
    with op.batch_alter_table("funding_sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_funding_sources_fiscal_year"), ["fiscal_year"], unique=False)
        batch_op.create_index(batch_op.f("ix_funding_sources_region_code"), ["region_code"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("operation", sa.String(length=60), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("subject", "operation", "key", name=op.f("uq_idempotency_keys_subject_operation_key")),
    )
    op.create_table(
        "contribution_bills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("funding_source_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Enum("ISSUED", "PAID", name="billstatus", native_enum=False, length=16), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(length=120), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_amount", sa.BigInteger(), nullable=True),
        sa.Column("paid_by", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(
            ["funding_source_id"],
            ["funding_sources.id"],
            name=op.f("fk_contribution_bills_funding_source_id_funding_sources"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution_bills")),
        sa.UniqueConstraint("funding_source_id", "period", name=op.f("uq_contribution_bills_funding_source_id_period")),
    )
    with op.batch_alter_table("contribution_bills", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contribution_bills_funding_source_id"), ["funding_source_id"], unique=False
        )

    op.create_table(
        "kecamatan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("city_code", sa.String(length=4), nullable=False),
        sa.ForeignKeyConstraint(["city_code"], ["cities.code"], name=op.f("fk_kecamatan_city_code_cities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kecamatan")),
        sa.UniqueConstraint("code", name=op.f("uq_kecamatan_code")),
    )
    with op.batch_alter_table("kecamatan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kecamatan_city_code"), ["city_code"], unique=False)

    op.create_table(
        "kelurahan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kecamatan_code", sa.String(length=6), nullable=False),
        sa.ForeignKeyConstraint(
            ["kecamatan_code"], ["kecamatan.code"], name=op.f("fk_kelurahan_kecamatan_code_kecamatan")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kelurahan")),
        sa.UniqueConstraint("code", name=op.f("uq_kelurahan_code")),
    )
    with op.batch_alter_table("kelurahan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kelurahan_kecamatan_code"), ["kecamatan_code"], unique=False)

    op.create_table(
        "workers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nik", sa.String(length=16), nullable=False),
        sa.Column("full_name", sa.String(length=120), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.Enum("MALE", "FEMALE", name="sex", native_enum=False, length=16), nullable=False),
        sa.Column(
            "occupation",
            sa.Enum(
                "SMALL_TRADER",
                "WARUNG_OWNER",
                "STREET_VENDOR",
                "MOSQUE_CARETAKER",
                "CARPENTER",
                "CONSTRUCTION_LABOURER",
                "MOTORCYCLE_TAXI_DRIVER",
                "BECAK_DRIVER",
                "FISHER",
                "FARM_LABOURER",
                "DOMESTIC_WORKER",
                "RELIGIOUS_TEACHER",
                "OTHER",
                name="occupation",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("monthly_income", sa.BigInteger(), nullable=False),
        sa.Column("kelurahan_code", sa.String(length=10), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("family_card_number", sa.String(length=16), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(length=120), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["kelurahan_code"], ["kelurahan.code"], name=op.f("fk_workers_kelurahan_code_kelurahan")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
        sa.UniqueConstraint("nik", name=op.f("uq_workers_nik")),
    )
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workers_kelurahan_code"), ["kelurahan_code"], unique=False)

    op.create_table(
        "enrollments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("funding_source_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "PROPOSED",
                "ACTIVE",
                "REJECTED",
                "LAPSED",
                "TERMINATED",
                name="enrollmentstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("programmes", sa.String(length=40), nullable=False),
        sa.Column("membership_number", sa.String(length=32), nullable=True),
        sa.Column("coverage_start", sa.Date(), nullable=True),
        sa.Column("coverage_end", sa.Date(), nullable=True),
        sa.Column("monthly_contribution", sa.BigInteger(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proposed_by", sa.String(length=120), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_by", sa.String(length=120), nullable=True),
        sa.Column(
            "rejection_reason",
            sa.Enum(
                "NIK_NOT_FOUND",
                "ALREADY_ENROLLED",
                "AGE_OUT_OF_RANGE",
                "DECEASED",
                "DUPLICATE_PROPOSAL",
                "OTHER",
                name="rejectionreason",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "termination_reason",
            sa.Enum(
                "DECEASED",
                "MOVED_OUT",
                "BECAME_WAGE_EARNER",
                "AGE_LIMIT",
                "PROGRAMME_ENDED",
                "OTHER",
                name="terminationreason",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("terminated_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["funding_source_id"], ["funding_sources.id"], name=op.f("fk_enrollments_funding_source_id_funding_sources")
        ),
        sa.ForeignKeyConstraint(["worker_id"], ["workers.id"], name=op.f("fk_enrollments_worker_id_workers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollments")),
        sa.UniqueConstraint("membership_number", name=op.f("uq_enrollments_membership_number")),
    )
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrollments_funding_source_id"), ["funding_source_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_enrollments_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_enrollments_worker_id"), ["worker_id"], unique=False)
        batch_op.create_index(
            "uq_enrollments_open_worker",
            ["worker_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('PROPOSED', 'ACTIVE', 'LAPSED')"),
            postgresql_where=sa.text("status IN ('PROPOSED', 'ACTIVE', 'LAPSED')"),
        )

    op.create_table(
        "verification_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "NIK_MATCH",
                "EXISTING_MEMBERSHIP",
                "AGE",
                "DECEASED",
                name="verificationcheckkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrollment_id"], ["enrollments.id"], name=op.f("fk_verification_checks_enrollment_id_enrollments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_checks")),
    )
    with op.batch_alter_table("verification_checks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_verification_checks_enrollment_id"), ["enrollment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("verification_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_checks_enrollment_id"))

    op.drop_table("verification_checks")
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_enrollments_open_worker",
            sqlite_where=sa.text("status IN ('PROPOSED', 'ACTIVE', 'LAPSED')"),
            postgresql_where=sa.text("status IN ('PROPOSED', 'ACTIVE', 'LAPSED')"),
        )
        batch_op.drop_index(batch_op.f("ix_enrollments_worker_id"))
        batch_op.drop_index(batch_op.f("ix_enrollments_status"))
        batch_op.drop_index(batch_op.f("ix_enrollments_funding_source_id"))

    op.drop_table("enrollments")
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workers_kelurahan_code"))

    op.drop_table("workers")
    with op.batch_alter_table("kelurahan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kelurahan_kecamatan_code"))

    op.drop_table("kelurahan")
    with op.batch_alter_table("kecamatan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kecamatan_city_code"))

    op.drop_table("kecamatan")
    with op.batch_alter_table("contribution_bills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contribution_bills_funding_source_id"))

    op.drop_table("contribution_bills")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("funding_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_funding_sources_region_code"))
        batch_op.drop_index(batch_op.f("ix_funding_sources_fiscal_year"))

    op.drop_table("funding_sources")
    op.drop_table("cities")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_target_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_region_code"))
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))

    op.drop_table("audit_events")
