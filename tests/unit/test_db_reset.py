"""The reset's guards as pure logic: which URLs name one database, and the sentence for a right
the database user lacks (tests/integration/test_recipes_e2e.py runs the reset itself)."""

from __future__ import annotations

from console.core.config.reset_guard import database_identity, shared_database_problem
from console.core.ops.db_reset import ResetPlan, SchemaFound, missing_right


def test_urls_and_conninfo_naming_one_database_have_one_identity() -> None:
    url = database_identity("postgresql://u:secret@127.0.0.1/green")
    assert url == ("localhost", "5432", "green")
    assert database_identity("host=localhost port=5432 dbname=green user=x") == url
    assert database_identity("postgresql://u@db.internal:5433/green") == (
        "db.internal", "5433", "green"
    )  # fmt: skip
    assert database_identity("") is None and database_identity("not a url at all") is None


def test_a_shared_database_is_named_without_its_url() -> None:
    urls = {
        "blue": ["postgresql://a:pw1@db/one"],
        "green": ["postgresql://b:pw2@db:5432/one"],
        "the source": ["postgresql://c:pw3@db/chain"],
    }
    problem = shared_database_problem("green", urls)
    assert problem is not None and problem.startswith("green's database is also blue's")
    assert "pw" not in problem and "db/" not in problem
    urls["green"] = ["postgresql://b:pw2@db/two"]
    assert shared_database_problem("green", urls) is None


def test_the_sentence_names_the_missing_ownership_or_grant() -> None:
    other = SchemaFound("squid_processor", "indexer", may_drop=False, tables=1)
    plan = ResetPlan("app", "green", (other,), may_create_schema=True)
    assert missing_right(plan, "green") == (
        "Cannot empty green's database: user app may not drop schema squid_processor (owned by "
        "indexer); make app its owner (ALTER SCHEMA squid_processor OWNER TO app) or a member of "
        "indexer (GRANT indexer TO app), or turn image.reset_database off. Nothing was started."
    )
    mine = SchemaFound("public", "pg_database_owner", may_drop=True, tables=3)
    no_create = ResetPlan("app", "green", (mine,), may_create_schema=False)
    assert "lacks CREATE on database green" in (missing_right(no_create, "green") or "")
    assert missing_right(ResetPlan("app", "green", (mine,), True), "green") is None
