"""The local-folder side: a folder as a source (`sources`, with its hash cache `hash_cache`),
and its output - each group copied out with the best marked (`output`), earlier group folders
reused when unchanged (`reuse`) - and the local pass as the batch CLI starts it (`run`).
"""
