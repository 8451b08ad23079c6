"""Pupils in bulk: a school's class list read (XLSX or CSV), its columns recognised,
every row checked, the good rows registered as one batch of events, and the new school
year (classes moved up a grade, leavers' cards expired, the rest extended).

sheet.py reads a file into rows of text, columns.py says which column holds what,
rows.py turns a row into a patron and says what is wrong with it, importing.py records
the batch, schoolyear.py plans and records the new year, rules.py holds the library's
school-year settings. Docs: docs/patrons.md."""
