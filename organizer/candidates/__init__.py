"""From photos to candidate groups: perceptual hashes (`hashing`) and the hash + time-window
grouping (`grouping`) that proposes which photos may show one moment.

Enters: photo references and their bytes. Leaves: a 64-bit hash and capture time per photo, and
candidate groups of photo ids. Judging confirms or refuses them.
"""
