"""Judging one candidate group: is it really one moment, and which frame is best.

Enters: one candidate's photos (decoded previews, Immich's faces when known). Leaves: verified
groups with their kind and evidence (`verify`, `kinds`), each photo's score, face boxes and a
sentence saying why (`faces`, `scoring`, `reasons`). `pool` runs judging ahead of the pass in
worker processes. `taste` learns the person's taste from the keepers they chose and re-picks a
judged group's keeper by it; its journal of choices (beside the shared record) is the one thing
here that writes.
"""
