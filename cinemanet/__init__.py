"""CinemaNet: read film and video in the language of cinema.

>>> from cinemanet import CinemaNet
>>> result = CinemaNet().tag("still.jpg")
>>> result.groups["shot.framing"].label, result.description
"""

from ._version import __version__

__all__ = ["CinemaNet", "TagError", "TagResult", "GroupPrediction", "get_taxonomy", "__version__"]


def __getattr__(name: str):
    # Lazy: `import cinemanet` stays cheap for the CLI's --help and for tools that only need the taxonomy.
    if name == "CinemaNet":
        from .api import CinemaNet

        return CinemaNet
    if name in ("TagError", "TagResult", "GroupPrediction"):
        from . import results

        return getattr(results, name)
    if name == "get_taxonomy":
        from .taxonomy import get_taxonomy

        return get_taxonomy
    raise AttributeError(f"module 'cinemanet' has no attribute {name!r}")
