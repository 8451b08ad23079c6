"""Reports for a library and for the town: figures over a period (figures.py), visits
and in-library use counted as events (counting.py), the town's register of libraries
and the plan's indicators (town.py), exports (export.py) and charts (charts.py)."""
