"""Patrons' rights under the personal data law (Law 91/2025, Decree 356/2025): sealed
personal fields (keys), downloading one's data (export), erasure by crypto-shredding
(erasure), reading history kept or not (history), and who may do what (rules).
docs/privacy.md says how it fits together."""
