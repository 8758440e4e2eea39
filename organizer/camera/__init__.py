"""What the camera says about which files belong together, before any pixel is compared.

Enters: photo references (names, EXIF, maker notes). Leaves: capture times (`capture_time`),
files of one shot - RAW+JPEG, edits, Live Photos, scans (`twins`) - and the camera's own burst
ids and burst file names (`burst_ids`). Candidates and judging use these; they import nothing
above them.
"""
