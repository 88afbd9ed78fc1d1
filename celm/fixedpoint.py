"""Anderson acceleration of a fixed-point iteration x = G(x), column by column.

Contract: :class:`Anderson` keeps, for every column (a land cell) of a state array (n, ncell),
the last ``depth`` differences of iterates and of their images, and :meth:`Anderson.step` maps
``(x, G(x))`` to the next iterate. Columns never mix: each cell has its own least-squares
coefficients, so a cell's result does not depend on which other cells are iterated with it, and
the work is a handful of batched (ncell, m, m) solves. Nothing here knows the model; the spin-up
(:mod:`celm.cycling`) supplies G (a forcing cycle followed by the semi-analytic solve), the
scales that make the state's components comparable, and the physical bounds of the state.

Why: plain iteration x <- G(x) converges like the slowest mode of G. For CELM that mode is the
labile-foliage loop (Dec-31 labile carbon sets next spring's leaf flush, hence GPP and the
equilibrium of every pool fed by NPP), which the linear pool solve cannot remove because it takes
NPP as given; it decays like a normal forcing cycle does, exp(-T / 13 yr), so short cycles stall
(0.86 per solve on a 2-year cycle). Anderson acceleration (Anderson 1965; "type II" as in Walker &
Ni 2011, SIAM J. Numer. Anal. 49) extrapolates from the recent residuals, which for a linear map
is GMRES on (I - G'): it removes a few slow modes per cell in as many iterations, whatever their
decay factor, and turns mildly unstable ones (the solve overshooting in some dry cells) into
convergent ones.

Safeguards (per cell): the coefficients come from a Tikhonov-regularised normal equation; a cell
whose scaled residual grew by more than ``restart_growth`` since the previous step, or whose
coefficients are huge, forgets its history and takes the plain step G(x); the result is clipped
to the bounds the caller gives.
"""

from __future__ import annotations

import numpy as np


class Anderson:
    """Per-column Anderson acceleration with memory ``depth``.

    ``scale`` (n, ncell) or (n, 1): the residual G(x) - x is divided by it before the least
    squares, so that every component counts in comparable units (the caller's choice: for the
    carbon pools a cell's carbon mass, for water a few mm, ...). ``lower``/``upper`` (n, ncell),
    (n, 1) or None: bounds of the state, applied to every new iterate.
    """

    def __init__(
        self,
        depth: int = 5,
        *,
        regularisation: float = 1e-10,
        restart_growth: float = 2.0,
        max_coefficient: float = 1e3,
    ) -> None:
        if depth < 1:
            raise ValueError(f"Anderson: depth must be at least 1, got {depth}")
        self.depth = depth
        self.regularisation = regularisation
        self.restart_growth = restart_growth
        self.max_coefficient = max_coefficient
        self._dF: list[np.ndarray] = []  # differences of scaled residuals, each (n, ncell)
        self._dG: list[np.ndarray] = []  # differences of images G(x), each (n, ncell)
        self._last_f: np.ndarray | None = None
        self._last_g: np.ndarray | None = None
        self._last_norm: np.ndarray | None = None
        #: per step: number of cells that restarted (for the log)
        self.restarts: list[int] = []

    def reset(self) -> None:
        """Forget all history (every cell takes the plain step next)."""
        self._dF.clear()
        self._dG.clear()
        self._last_f = self._last_g = self._last_norm = None

    def select(self, keep: np.ndarray) -> None:
        """Keep only the columns ``keep`` (bool or index array) in the history: the caller
        stops iterating the other cells."""
        self._dF = [a[:, keep] for a in self._dF]
        self._dG = [a[:, keep] for a in self._dG]
        if self._last_f is not None:
            self._last_f = self._last_f[:, keep]
            self._last_g = self._last_g[:, keep]
            self._last_norm = self._last_norm[keep]

    def step(
        self,
        x: np.ndarray,
        gx: np.ndarray,
        scale: np.ndarray,
        lower: np.ndarray | None = None,
        upper: np.ndarray | None = None,
    ) -> np.ndarray:
        """The next iterate from the current one ``x`` and its image ``gx`` (both (n, ncell))."""
        if x.shape != gx.shape or x.ndim != 2:
            raise ValueError(f"Anderson.step: x {x.shape} and G(x) {gx.shape} must be equal 2-D")
        f = (gx - x) / scale
        norm = np.sqrt(np.sum(f * f, axis=0))
        restart = np.zeros(x.shape[1], dtype=bool)
        if self._last_f is not None:
            if self._last_f.shape != f.shape:
                raise ValueError("Anderson.step: the state's shape changed between steps")
            self._dF.append(f - self._last_f)
            self._dG.append(gx - self._last_g)
            if len(self._dF) > self.depth:
                self._dF.pop(0)
                self._dG.pop(0)
            restart = norm > self.restart_growth * self._last_norm
        self._last_f, self._last_g, self._last_norm = f, gx, norm

        new = gx.copy()
        if self._dF:
            dF = np.stack(self._dF, axis=-1)  # (n, ncell, m)
            dG = np.stack(self._dG, axis=-1)
            gram = np.einsum("ncm,nck->cmk", dF, dF)  # (ncell, m, m)
            rhs = np.einsum("ncm,nc->cm", dF, f)
            m = gram.shape[-1]
            ridge = self.regularisation * np.trace(gram, axis1=1, axis2=2) + 1e-30
            gram = gram + ridge[:, None, None] * np.eye(m)
            gamma = np.linalg.solve(gram, rhs[..., None])[..., 0]  # (ncell, m)
            bad = (
                restart
                | ~np.all(np.isfinite(gamma), axis=1)
                | (np.abs(gamma).sum(axis=1) > self.max_coefficient)
            )
            gamma[bad] = 0.0
            new -= np.einsum("ncm,cm->nc", dG, gamma)
            if np.any(bad):
                # those cells forget their history: it described another region of the map
                for dF_k in self._dF:
                    dF_k[:, bad] = 0.0
                for dG_k in self._dG:
                    dG_k[:, bad] = 0.0
            self.restarts.append(int(bad.sum()))
        else:
            self.restarts.append(0)
        if lower is not None:
            np.maximum(new, lower, out=new)
        if upper is not None:
            np.minimum(new, upper, out=new)
        return new
