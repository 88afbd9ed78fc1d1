"""Start ESMValCore's ``esmvaltool`` command on a machine without ESMF.

ESMValCore 2.13 imports ``esmpy`` when its preprocessor package is imported (for its ESMF
regridding schemes), although recipes that use only iris schemes (``area_weighted``,
``linear``, ``nearest``) never call it. ``esmpy`` is not on PyPI, so the ``esmvaltool`` extra
overrides it away and this launcher - only in its own process and only when ``import esmpy``
really fails - registers a placeholder module under that name. Nothing is installed: a real
esmpy on the machine is always the one used. Any real use of the placeholder (an ESMF scheme
that slipped past :func:`esmvaltool_bridge.recipe.check_scheme`) raises
:class:`EsmfUnavailableError` with a clear message instead of failing obscurely.

Usage: ``python -m esmvaltool_bridge.launcher run --config_dir DIR recipe.yml`` (the arguments
of ``esmvaltool``).
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings

#: esmpy calls made when ESMValCore/esmf_regrid are imported (no regridding happens then).
_IMPORT_TIME_CALLS = frozenset({"esmpy.Manager"})


class EsmfUnavailableError(ImportError):
    """An ESMF regridding scheme was used but esmpy is not installed."""


class _Unavailable:
    """Stands for any esmpy attribute; distinct objects so enums built from them stay distinct."""

    def __init__(self, path: str) -> None:
        self._path = path

    def __getattr__(self, name: str) -> _Unavailable:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Unavailable(f"{self._path}.{name}")

    def __call__(self, *args, **kwargs) -> _Unavailable:
        if self._path in _IMPORT_TIME_CALLS:
            return _Unavailable(f"{self._path}()")
        raise EsmfUnavailableError(
            f"{self._path} was called, but esmpy (ESMF) is not installed: ESMF regridding "
            "schemes are unavailable here; use area_weighted, linear or nearest"
        )

    def __repr__(self) -> str:
        return f"<esmpy unavailable: {self._path}>"


def _placeholder() -> types.ModuleType:
    module = types.ModuleType("esmpy", "placeholder: esmpy (ESMF) is not installed")
    module.__getattr__ = lambda name: _Unavailable(f"esmpy.{name}")  # type: ignore[attr-defined]
    module.__version__ = "0.0.0+unavailable"  # type: ignore[attr-defined]
    return module


def install_esmpy_placeholder() -> bool:
    """Register the placeholder if (and only if) no real esmpy imports; True if registered."""
    try:
        importlib.import_module("esmpy")
    except ImportError:
        sys.modules["esmpy"] = _placeholder()
        return True
    return False


def main(argv: list[str] | None = None) -> int:
    """Run ESMValCore's command line with ``argv`` (default: ``sys.argv[1:]``)."""
    warnings.filterwarnings("ignore", message="ecCodes .* or higher is recommended")
    install_esmpy_placeholder()
    from esmvalcore._main import run

    sys.argv = ["esmvaltool", *(sys.argv[1:] if argv is None else argv)]
    try:
        run()
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
