"""Reading suggestions and cataloguing help from the town's own data (docs/suggestions.md).

- `borrowing`: item-to-item co-borrowing over every library's loans (the hub), with the
  privacy rules: pairs seen with at least MIN_BORROWERS distinct borrowers, patrons who
  turned their reading history off left out, children's loans apart.
- `words`: a TF-IDF index of the union catalogue's folded words, for the content
  fallback and the DDC and subject suggestion.
- `modelfile`: the versioned file the hub builds and sync ships.
- `store`: the branch's tables, loaded from that file, and the lookups.
- `build`: the hub's `thuvien recommend build`.
"""
