"""Crowd labelling: projects of items to label, annotators with tokens, agreement, interchange
with other tools, and the bias audit of a data set (see docs/LABELLING.md).

    from cinemanet.labelling import LabelStore
    store = LabelStore()                       # labelling.sqlite in the data-set store root
    token = store.add_annotator("ana")         # shown once; stored hashed
"""

from .store import Annotator, Conflict, LabellingError, LabelStore, NewItem, Project, offered_labels

__all__ = ["Annotator", "Conflict", "LabelStore", "LabellingError", "NewItem", "Project", "offered_labels"]
