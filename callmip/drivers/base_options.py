"""The base of every driver's typed options (kept free of numerical imports, so the campaign
schema can use it without loading the drivers)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class DriverOptions(BaseModel):
    """A driver's typed options in a campaign (``models[].options``); none by default.

    Drivers with options subclass this; unknown keys are refused before anything starts.
    ``path_fields`` names the fields holding paths (relative ones are taken from the campaign
    file's directory; from the Prefect UI they must stay inside the data root).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    path_fields: ClassVar[tuple[str, ...]] = ()

    def problems(self) -> list[str]:
        """What is wrong with the files these options name (checked when a campaign is loaded,
        before anything starts); nothing by default."""
        return []
