"""portal retention: when a sent document was withdrawn

A withdrawn document's link, access code and page no longer open for the citizen; the other
end of its portal life, the retention after sending, is a setting (ZEGEL_PORTAL_RETENTION_YEARS).

Revision ID: 0016_portal_retention
Revises: 0015_document_types
Create Date: 2026-11-29 14:17:44.657451
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0016_portal_retention'
down_revision: str | None = '0015_document_types'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_column('withdrawn_at')
