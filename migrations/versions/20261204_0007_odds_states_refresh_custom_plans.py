"""odds_states_refresh plans every statement with its arguments' values (plan_cache_mode = force_custom_plan)

PL/pgSQL caches its statements' plans per connection and, after five executions, may keep a generic plan that
cannot see the arrays' lengths (10 events per round assumed) and, when built while `odds_states` was empty,
probes it by sequential scan: the refresh's `kept` step becomes a nested loop quadratic in the round's width,
for the rest of the connection's life (docs/DATABASE.md, "odds_states refresh plans"). Databases built from
revision 0003 of this code already carry the setting (the function is created with it); this sets it on the
ones made before. The downgrade removes it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 22:40:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTION = "odds_states_refresh(text[], timestamptz[])"


def upgrade() -> None:
    op.execute(f"ALTER FUNCTION {_FUNCTION} SET plan_cache_mode = force_custom_plan")


def downgrade() -> None:
    op.execute(f"ALTER FUNCTION {_FUNCTION} RESET plan_cache_mode")
