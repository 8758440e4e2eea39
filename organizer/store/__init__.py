"""Keeping: what a pass remembers between runs, written so a crash never leaves half a file.

Enters: hash entries, judged groups, journals' bytes. Leaves: the compact state file (`state`),
its hash table (`hash_table`) and packed group entries (`packed`), atomic writes (`atomic`) and
the lock that keeps two passes off one state directory (`locks`). Imports nothing of the stages.
"""
