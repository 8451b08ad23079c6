"""The training pages read no table that grows with the library's years whole nor by
the library alone (tests/query_plans.py). They seek the training tables by the library:
a row per exercise done or course attended by its few staff, the pages' very answer."""

from tests.conftest import staff_login
from tests.query_plans import bad_steps, statements_of

TRAINING = ("training_exercise", "training_course")


def test_the_training_pages_read_through_selective_indexes(ctx, client):
    staff_login(client, "quanly")

    def pages():
        assert client.get("/training/").status_code == 200
        assert client.get("/training/records").status_code == 200

    statements = statements_of(ctx, pages)
    assert len(statements) > 8, "the trace saw the pages' statements"
    bad = [(step, sql) for step, sql in bad_steps(ctx, statements)
           if not any(f'FROM "{table}"' in sql for table in TRAINING)]
    assert not bad, "\n".join(f"{step}  in  {sql}" for step, sql in bad)
