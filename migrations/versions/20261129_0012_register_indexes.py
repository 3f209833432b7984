"""register indexes

The register of outgoing mail filters a period per organisation (its totals and charts, and the
bounds of the period in the register, read from the index alone on PostgreSQL) and searches recipient
names and document titles by substring: GIN trigram indexes on PostgreSQL (pg_trgm, a trusted
extension: the database owner may create it). SQLite gets plain indexes of the same names.

Revision ID: 0012_register_indexes
Revises: 0011_signer_absence
Create Date: 2026-11-29 10:40:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0012_register_indexes'
down_revision: str | None = '0011_signer_absence'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    if postgres:
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    op.create_index(
        'ix_dispatch_organisation_id_submitted_at',
        'dispatch',
        ['organisation_id', 'submitted_at'],
        postgresql_include=['channel', 'status', 'created_at', 'register_year', 'register_sequence'],
    )
    op.create_index(
        'ix_dispatch_recipient_name_trgm',
        'dispatch',
        ['recipient_name'],
        postgresql_using='gin',
        postgresql_ops={'recipient_name': 'gin_trgm_ops'},
    )
    op.create_index(
        'ix_document_title_trgm',
        'document',
        ['title'],
        postgresql_using='gin',
        postgresql_ops={'title': 'gin_trgm_ops'},
    )


def downgrade() -> None:
    op.drop_index('ix_document_title_trgm', table_name='document')
    op.drop_index('ix_dispatch_recipient_name_trgm', table_name='dispatch')
    op.drop_index('ix_dispatch_organisation_id_submitted_at', table_name='dispatch')
