"""What a person reads after a pass: the picture report (`pictures`, template in `templates/`),
thumbnails of every group with the keeper marked, the face boxes that decided and the reasons.
"""
