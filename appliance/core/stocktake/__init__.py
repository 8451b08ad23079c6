"""Stocktake (kiểm kê): count what is on the shelves against what the catalogue says.

A stocktake is three kinds of event, applied by the one projector like every other, so
several desks of a library scan into one stocktake at once, it survives a restart
half-way, and it syncs to the hub (which shows it read-only):

- `stocktake.started`: its library and scope (a location, a call-number range, or both);
- `stocktake.seen`: copies scanned or laid on the RFID pad (one event for all the tags
  the pad read at once); a copy seen twice counts once;
- `stocktake.finished`: the result as the finishing desk saw it, kept as the record.

`commands` makes them, `projection` applies them, `result` sorts the copies into
missing, misplaced, unexpected and on loan, `record` lays the result out for export.
This package imports nothing at import time but models and errors, so the projector
and the authority check can name its parts without a cycle.
"""
