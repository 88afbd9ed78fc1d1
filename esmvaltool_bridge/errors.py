"""Errors of the ESMValTool bridge: each message names the file, setting or tool at fault."""

from __future__ import annotations


class EsmvaltoolError(RuntimeError):
    """Base class: the ESMValTool evaluation of a run directory cannot go ahead."""


class ExtraMissingError(EsmvaltoolError):
    """ESMValCore (the optional extra ``esmvaltool``) is not installed in this environment."""


class SchemeError(EsmvaltoolError, ValueError):
    """A recipe asks for a regridding scheme that this machine cannot run (ESMF/esmpy)."""


class LayoutError(EsmvaltoolError, ValueError):
    """A run directory or reference product cannot be laid out for ESMValTool."""


class RecipeRunError(EsmvaltoolError):
    """``esmvaltool run`` failed; the message points at its log."""
