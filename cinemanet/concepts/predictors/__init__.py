"""One module per concept group. Every public module here is a plug-in, found by
:data:`cinemanet.concepts.base.PREDICTORS` (no import list to keep)."""
