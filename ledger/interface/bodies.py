"""Request bodies that both the API and the page parse (the API documents them)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class ConsentAnswer(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"decision": "accept"}]}
    )
    decision: Annotated[
        Literal["accept", "decline"], Field(description="The customer's answer (R23)")
    ]
