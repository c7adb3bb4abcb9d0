"""One plug-in idiom for every extension point.

Each kind of plug-in has one :class:`Registry` (analyzers, predictors, detectors, exporters,
catalogs, engines). A plug-in is one file with one registration::

    @DETECTORS.register("mine")          # or the kind's own decorator, e.g. @register_detector
    class Mine(ShotDetector): ...

Built-ins are found by importing every public module of the kind's package (no hand-kept
import lists). Third-party packages add plug-ins through the entry-point group
``cinemanet.<kind>`` (for example ``cinemanet.detectors``); the entry point names the object
(``pkg.mod:Mine``) or a module that registers on import.

- A name registered twice is an error naming both registrants (never a silent replacement).
- A plug-in module that fails to import is an error naming it. Only a missing *third-party*
  dependency (``ImportError`` for a module outside cinemanet and the plug-in itself) marks the
  module unavailable, with the reason; ``cinemanet plugins`` lists it so.

Loading is lazy (on first lookup), so importing a registry costs nothing.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterator, Mapping, TypeVar

T = TypeVar("T")

ENTRY_POINT_PREFIX = "cinemanet."


class PluginError(Exception):
    """A plug-in could not be registered or loaded. ``str(err)`` is one line naming it."""


class MissingDependency(ImportError):
    """Raised by a plug-in module whose optional third-party dependency is not installed."""


@dataclass(frozen=True)
class PluginInfo:
    kind: str
    name: str
    origin: str  # "builtin" or the distribution ("package 1.0") that provides it
    where: str  # module:qualname (or the module, for an unavailable one)
    status: str  # "ok", "unavailable: <reason>" or "error: <reason>"
    summary: str = ""


def _where(obj: Any) -> str:
    obj = getattr(obj, "write", obj) if not isinstance(obj, type) else obj  # an exporter record: its writer
    mod = getattr(obj, "__module__", None) or type(obj).__module__
    qual = getattr(obj, "__qualname__", None) or getattr(obj, "name", None) or type(obj).__qualname__
    return f"{mod}:{qual}"


def _is_missing_dependency(e: ImportError, own: str) -> bool:
    """A dependency outside cinemanet and outside the plug-in's own package is missing."""
    if isinstance(e, MissingDependency):
        return True
    if type(e) is ImportError and e.name is None:  # raised by hand: "needs X (pip install X)"
        return True
    if not isinstance(e, ModuleNotFoundError) or not e.name:
        return False
    top = e.name.split(".")[0]
    return top not in ("cinemanet", own.split(".")[0])


class Registry(Mapping[str, T], Generic[T]):
    """Name -> plug-in object for one kind. A read-only mapping that loads itself on first use.

    ``package``: the built-ins' package (every public module in it is imported);
    ``order``: sort key ``(name, obj) -> key`` for iteration (default: by name);
    ``describe``: ``obj -> one line`` for ``cinemanet plugins`` and ``--help``;
    ``unwrap``: registered record -> the object its decorator returned (entry points may name either).
    """

    def __init__(
        self,
        kind: str,
        *,
        package: str | None = None,
        noun: str | None = None,
        order: Callable[[str, T], Any] | None = None,
        describe: Callable[[T], str] | None = None,
        unwrap: Callable[[T], Any] | None = None,
    ):
        self.kind = kind
        self.noun = noun or kind.rstrip("s")
        self.group = ENTRY_POINT_PREFIX + kind
        self.package = package
        self._order = order or (lambda name, obj: name)
        self._describe = describe or (
            lambda obj: getattr(obj, "summary", "") or (getattr(obj, "__doc__", "") or "").strip().split("\n")[0]
        )
        self._unwrap = unwrap or (lambda obj: obj)  # registered record -> the object a decorator returned
        self._items: dict[str, T] = {}
        self._origin: dict[str, str] = {}
        self._unavailable: dict[str, str] = {}  # module or entry point -> reason
        self._errors: list[str] = []
        self._state = "new"  # "new", "loading", "loaded"
        self._current_origin = "builtin"

    # registration ---------------------------------------------------------------------
    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` as ``name``; a different object under the same name is an error."""
        if not name:
            raise PluginError(f"{self.noun} {_where(obj)} needs a name")
        old = self._items.get(name)
        if old is not None and old is not obj and _where(old) != _where(obj):  # a reload is not a duplicate
            raise PluginError(
                f"{self.noun} {name!r} registered twice: by {_where(old)} "
                f"({self._origin[name]}) and by {_where(obj)} ({self._current_origin})"
            )
        self._items[name] = obj
        origin = self._current_origin
        if origin == "builtin" and not _where(obj).startswith("cinemanet."):
            origin = _where(obj).split(".")[0].split(":")[0]  # registered by an import, not an entry point
        self._origin[name] = origin
        return obj

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@REGISTRY.register("name")``."""
        return lambda obj: self.add(name, obj)

    # loading --------------------------------------------------------------------------
    def load(self, *, strict: bool = True) -> None:
        """Import the built-ins and the entry points once. With ``strict`` (the default) a
        plug-in that failed to import raises :class:`PluginError` naming it."""
        if self._state == "new":
            self._state = "loading"
            try:
                self._load_builtins()
                self._load_entry_points()
            finally:
                self._state = "loaded"
        if strict and self._errors:
            raise PluginError("; ".join(self._errors))

    def _load_builtins(self) -> None:
        if not self.package:
            return
        pkg = importlib.import_module(self.package)
        for m in pkgutil.iter_modules(pkg.__path__):
            if m.name.startswith("_"):
                continue
            mod = f"{self.package}.{m.name}"
            try:
                importlib.import_module(mod)
            except ImportError as e:
                if _is_missing_dependency(e, mod):
                    self._unavailable[mod] = str(e).splitlines()[0]
                else:
                    self._errors.append(f"{self.noun} module {mod} failed to import: {type(e).__name__}: {e}")
            # any other exception is a bug in a built-in: let it surface with its traceback

    def _load_entry_points(self) -> None:
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.group):
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else ep.value
            self._current_origin = dist
            try:
                obj = ep.load()
            except ImportError as e:
                if _is_missing_dependency(e, ep.module):
                    self._unavailable[f"{ep.name} ({dist})"] = str(e).splitlines()[0]
                else:
                    self._errors.append(
                        f"{self.noun} plug-in {ep.name!r} from {dist} ({ep.value}) failed to import: "
                        f"{type(e).__name__}: {e}"
                    )
                continue
            except Exception as e:  # noqa: BLE001 - a third-party bug: named by load(), which raises
                self._errors.append(
                    f"{self.noun} plug-in {ep.name!r} from {dist} ({ep.value}) failed to import: "
                    f"{type(e).__name__}: {e}"
                )
                continue
            finally:
                self._current_origin = "builtin"
            if isinstance(obj, type(importlib)):  # a module: registered itself on import
                continue
            known = [n for n, v in self._items.items() if v is obj or self._unwrap(v) is obj]
            for n in known:  # it registered itself while its entry point loaded: credit the package
                self._origin[n] = dist
            if not known:
                self._current_origin = dist
                try:
                    self.add(ep.name, obj)
                except PluginError as e:
                    self._errors.append(str(e))
                finally:
                    self._current_origin = "builtin"

    def _ensure(self) -> None:
        if self._state == "new":
            self.load()
        elif self._state == "loaded" and self._errors:
            raise PluginError("; ".join(self._errors))

    # lookup ---------------------------------------------------------------------------
    def __getitem__(self, name: str) -> T:
        self._ensure()
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        self._ensure()
        return iter(sorted(self._items, key=lambda n: self._order(n, self._items[n])))

    def __len__(self) -> int:
        self._ensure()
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        self._ensure()
        return name in self._items

    def names(self) -> list[str]:
        return list(self)

    def get_plugin(self, name: str) -> T:
        """The plug-in ``name``, or a KeyError that lists the choices (and the unavailable ones)."""
        self._ensure()
        try:
            return self._items[name]
        except KeyError:
            for where, why in self._unavailable.items():  # a known plug-in whose dependency is missing
                if where.rsplit(".", 1)[-1].split(" ")[0] == name or re.search(rf"\b{re.escape(name)}\b", why):
                    raise KeyError(why) from None  # says what it needs and how to install it
            msg = f"unknown {self.noun} {name!r}; choose from {', '.join(self)}"
            if self._unavailable:
                msg += "; unavailable: " + "; ".join(f"{k} ({v})" for k, v in self._unavailable.items())
            raise KeyError(msg) from None

    def describe(self, name: str) -> str:
        return self._describe(self[name])

    def info(self) -> list[PluginInfo]:
        """Everything installed of this kind, including unavailable and broken plug-ins."""
        self.load(strict=False)
        out = [
            PluginInfo(self.kind, n, self._origin[n], _where(self._items[n]), "ok", self._describe(self._items[n]))
            for n in sorted(self._items, key=lambda n: self._order(n, self._items[n]))
        ]
        out += [
            PluginInfo(
                self.kind, k.rsplit(".", 1)[-1], "builtin" if k.startswith("cinemanet.") else k, k, f"unavailable: {v}"
            )
            for k, v in self._unavailable.items()
        ]
        out += [PluginInfo(self.kind, "?", "?", "", f"error: {e}") for e in self._errors]
        return out

    def __repr__(self) -> str:
        return f"<Registry {self.kind}: {', '.join(self._items)}{'' if self._state == 'loaded' else ' (not loaded)'}>"


# The registries, one per kind. Their idioms (decorators, helpers) live with each kind's
# interface; they are all built on these objects.
def _registries() -> dict[str, Registry]:
    from .catalog.backends import CATALOGS
    from .concepts.base import PREDICTORS
    from .engines import ENGINES
    from .perception.analyzer import ANALYZERS
    from .video.detectors.base import DETECTORS
    from .video.export import EXPORTERS

    return {r.kind: r for r in (ANALYZERS, PREDICTORS, DETECTORS, EXPORTERS, CATALOGS, ENGINES)}


KINDS = ("analyzers", "predictors", "detectors", "exporters", "catalogs", "engines")


def registry(kind: str) -> Registry:
    regs = _registries()
    try:
        return regs[kind]
    except KeyError:
        raise KeyError(f"unknown plug-in kind {kind!r}; kinds are: {', '.join(KINDS)}") from None


def installed(kinds: tuple[str, ...] = KINDS) -> list[PluginInfo]:
    """Every plug-in of these kinds (``cinemanet plugins``)."""
    regs = _registries()
    return [i for k in kinds for i in regs[k].info()]
