"""Staff training (đào tạo): a practice library, guided exercises, training records.

- `practice`: a staff member's practice copy of their library (a SQLite copy of the real
  database with every patron's personal data made up, `names`), bound per request so
  one process serves real and practice users at once; nothing in it syncs or prints;
- `exercises`: the guided exercises and the checks that read their completion from the
  practice copy's events;
- `records`: the events that sync (`training.staff`, the library's staff list;
  `training.exercise`, an exercise done; `training.course`, a course attended outside),
  applied by `projection`, allowed by `rules`; `status` counts who is trained;
- `certificates`: course certificates kept by content.

Like stocktake, this package imports nothing at import time but models and errors in
`projection` and `rules`, so the projector and the authority check can name them.
"""
