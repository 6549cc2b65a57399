"""Empty a colour's database so a new version re-indexes from nothing (image.reset_database).

Indexers keep bookkeeping beside their data — SQD in `squid_processor`, graph-node and Ponder in
schemas of their own — so dropping `public` alone let a release resume from its predecessor's
progress. Every schema but PostgreSQL's own is dropped, `public` is recreated with its owner and
grants, and the result is read back before anything starts.

Schemas rather than the database: dropping a schema needs only its ownership (the database owner
owns `public` through pg_database_owner), where DROP/CREATE DATABASE needs CREATEDB, a second
database to connect to, and no other session on this one.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

# The guard a reset needs (no colour's database is another's) is a config check, so it lives in
# config; deploy asks it again before each reset, through these names.

# PostgreSQL's own schemas; pg_toast* and pg_temp* are matched by prefix in SYSTEM_FILTER.
SYSTEM_FILTER = (
    "nspname NOT IN ('pg_catalog', 'information_schema')"
    r" AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp%'"
)
_SCHEMAS = f"""
SELECT n.nspname, pg_get_userbyid(n.nspowner),
       pg_has_role(current_user, n.nspowner, 'USAGE'),
       (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p'))
FROM pg_namespace n WHERE {SYSTEM_FILTER} ORDER BY n.nspname
"""
# Each grant on `public` other than its owner's own, to give back after recreating it.
_PUBLIC_GRANTS = """
SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
       a.privilege_type, a.is_grantable
FROM pg_namespace n, aclexplode(n.nspacl) a
WHERE n.nspname = 'public' AND a.grantee <> n.nspowner
"""
_LEFT_OVER = f"""
SELECT (SELECT array_agg(nspname::text ORDER BY nspname) FROM pg_namespace WHERE {SYSTEM_FILTER}),
       (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {SYSTEM_FILTER})
"""


class ResetError(Exception):
    """The database could not be emptied; the message is one sentence saying what to do."""


@dataclass(frozen=True)
class SchemaFound:
    name: str
    owner: str
    may_drop: bool  # the user has its owner's privileges (or is a superuser)
    tables: int


@dataclass(frozen=True)
class ResetPlan:
    user: str
    database: str
    schemas: tuple[SchemaFound, ...]
    may_create_schema: bool


def _plan(conn: psycopg.Connection[tuple[object, ...]]) -> ResetPlan:
    row = conn.execute(
        "SELECT current_user, current_database(),"
        " has_database_privilege(current_database(), 'CREATE')"
    ).fetchone()
    assert row is not None
    schemas = tuple(
        SchemaFound(str(name), str(owner), bool(may), int(str(tables)))
        for name, owner, may, tables in conn.execute(_SCHEMAS).fetchall()
    )
    return ResetPlan(str(row[0]), str(row[1]), schemas, bool(row[2]))


def missing_right(plan: ResetPlan, color: str) -> str | None:
    """The one sentence naming the grant or ownership the reset lacks, or None."""
    for schema in plan.schemas:
        if not schema.may_drop and schema.owner == "pg_database_owner":  # public, PostgreSQL 15+
            return (
                f"Cannot empty {color}'s database: user {plan.user} may not drop schema "
                f"{schema.name} (owned by the database's owner); make {plan.user} the owner of "
                f"database {plan.database} (ALTER DATABASE {plan.database} OWNER TO "
                f"{plan.user}), or turn image.reset_database off. Nothing was started."
            )
        if not schema.may_drop:
            return (
                f"Cannot empty {color}'s database: user {plan.user} may not drop schema "
                f"{schema.name} (owned by {schema.owner}); make {plan.user} its owner "
                f"(ALTER SCHEMA {schema.name} OWNER TO {plan.user}) or a member of "
                f"{schema.owner} (GRANT {schema.owner} TO {plan.user}), or turn "
                "image.reset_database off. Nothing was started."
            )
    if not plan.may_create_schema:
        return (
            f"Cannot empty {color}'s database: user {plan.user} lacks CREATE on database "
            f"{plan.database} to recreate schema public (GRANT CREATE ON DATABASE "
            f"{plan.database} TO {plan.user}), or turn image.reset_database off. "
            "Nothing was started."
        )
    return None


def check_reset(url: str, color: str) -> None:
    """Raise ResetError if the user could not empty this database (before anything is stopped)."""
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        problem = missing_right(_plan(conn), color)
    if problem:
        raise ResetError(problem)


def _count(tables: int) -> str:
    return f"{tables} table" + ("" if tables == 1 else "s")


def reset_database(url: str, color: str) -> str:
    """Drop every non-system schema, recreate an empty `public`, read back; return the sentence
    naming what was dropped ("Emptied green's database: dropped schemas public (12 tables), …")."""
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        plan = _plan(conn)
        problem = missing_right(plan, color)
        if problem:
            raise ResetError(problem)
        public = next((s for s in plan.schemas if s.name == "public"), None)
        grants = conn.execute(_PUBLIC_GRANTS).fetchall() if public else []
        try:
            with conn.transaction():  # all or nothing: a half-emptied database resumes oddly
                for schema in plan.schemas:
                    conn.execute(
                        sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema.name))
                    )
                owner = public.owner if public else plan.user
                conn.execute(
                    sql.SQL("CREATE SCHEMA public AUTHORIZATION {}").format(sql.Identifier(owner))
                )
                for grantee, privilege, grantable in grants:
                    to = sql.SQL("PUBLIC") if grantee == "PUBLIC" else sql.Identifier(grantee)
                    conn.execute(
                        sql.SQL("GRANT {} ON SCHEMA public TO {}{}").format(
                            sql.SQL(str(privilege)),
                            to,
                            sql.SQL(" WITH GRANT OPTION" if grantable else ""),
                        )
                    )
        except psycopg.errors.InsufficientPrivilege as exc:
            raise ResetError(
                f"Cannot empty {color}'s database: user {plan.user} lacks a right it needs "
                f"({exc.diag.message_primary}); make {plan.user} the owner of database "
                f"{plan.database} or turn image.reset_database off. Nothing was started."
            ) from None
        left = conn.execute(_LEFT_OVER).fetchone()
    schemas_left, relations_left = (left[0] or [], int(left[1])) if left else ([], 0)
    if list(schemas_left) != ["public"] or relations_left:
        raise ResetError(
            f"{color}'s database is not empty after the reset (schemas {', '.join(schemas_left)}, "
            f"{relations_left} relations left); empty it by hand before deploying. "
            "Nothing was started."
        )
    dropped = ", ".join(f"{s.name} ({_count(s.tables)})" for s in plan.schemas)
    if not dropped:
        return f"Emptied {color}'s database: it held no schemas; created an empty public."
    noun = "schema" if len(plan.schemas) == 1 else "schemas"
    return f"Emptied {color}'s database: dropped {noun} {dropped}."
