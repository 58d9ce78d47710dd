"""The answers of the log's Merkle proofs (docs/checkpoints.md): hashes as lowercase hex."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

HEX = "^[0-9a-f]{64}$"


class InclusionProofOut(BaseModel):
    """RFC 9162 inclusion proof of one event in the log's tree of ``tree_size`` events."""

    model_config = ConfigDict(extra="forbid")
    leaf_index: int = Field(ge=0, description="The event's place in the log, from 0")
    tree_size: int = Field(ge=1, description="The size of the tree the proof is for")
    leaf_hash: str = Field(pattern=HEX, description="SHA-256(0x00 || the event's stored hash)")
    hashes: list[str] = Field(description="The audit path, from the leaf up (hex)")


class ConsistencyProofOut(BaseModel):
    """RFC 9162 consistency proof: the tree of ``to`` events extends the tree of ``from``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: int = Field(alias="from", ge=1, description="The older tree size")
    to: int = Field(ge=1, description="The newer tree size")
    hashes: list[str] = Field(description="The consistency proof (hex)")
