"""The audit trail is append-only in the database itself: triggers refuse UPDATE and DELETE on audit_events
(and TRUNCATE on PostgreSQL) for every role, the table's owner included.

On PostgreSQL, when ``RENTAN_DATABASE_APP_ROLE`` names the role the application connects as (a role other than
the one running migrations), its UPDATE, DELETE and TRUNCATE privileges on the table are revoked as well, so that
it could not even drop the trigger's protection by disabling it (only the owner may).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "audit_events is append-only"
APP_ROLE_VARIABLE = "RENTAN_DATABASE_APP_ROLE"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
            END;
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
        )
        if app_role := os.environ.get(APP_ROLE_VARIABLE):
            role = bind.dialect.identifier_preparer.quote(app_role)
            op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM {role}")
    else:
        # SQLite has no TRUNCATE (DELETE without WHERE fires the trigger); a table rebuilt by a later batch
        # migration loses its triggers, so such a migration must create these again.
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{event.lower()} BEFORE {event} ON audit_events "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER audit_events_no_update_or_delete ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
        # Privileges revoked from an application role are not granted back: that is the administrator's call.
    else:
        op.execute("DROP TRIGGER audit_events_no_delete")
        op.execute("DROP TRIGGER audit_events_no_update")
