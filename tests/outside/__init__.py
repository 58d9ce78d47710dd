"""An RFC 9162 / C2SP verifier that is not the Ledger's code: the Go checksum database's
``golang.org/x/mod/sumdb/tlog`` (``CheckRecord``, ``CheckTree``) and ``sumdb/note`` (signed
notes), driven through ``tlogcheck/main.go``, built once a test session.

They come from Debian's packages (``golang-go``, ``golang-golang-x-mod-dev``: ``scripts/test``
installs them); without them the tests that need them are skipped, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

SOURCE = Path(__file__).parent / "tlogcheck"
GOPATH = Path("/usr/share/gocode")


class OutsideError(AssertionError):
    """The outside verifier refused a proof or a note."""


class Outside:
    """The verifier, running: one request a line, one answer a line."""

    def __init__(self, binary: Path) -> None:
        self.process = subprocess.Popen(
            [str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def ask(self, **request: object) -> dict[str, str]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer: dict[str, str] = json.loads(self.process.stdout.readline())
        if answer["result"] != "ok":
            raise OutsideError(answer["result"])
        return answer

    def inclusion(self, index: int, size: int, leaf: bytes, root: bytes, path: list[bytes]) -> None:
        self.ask(
            op="inclusion",
            index=index,
            size=size,
            leaf=leaf.hex(),
            root=root.hex(),
            proof=[h.hex() for h in path],
        )

    def consistency(
        self, old: int, new: int, old_root: bytes, root: bytes, path: list[bytes]
    ) -> None:
        self.ask(
            op="consistency",
            old=old,
            size=new,
            old_root=old_root.hex(),
            root=root.hex(),
            proof=[h.hex() for h in path],
        )

    def note(self, verifier_key: str, note: str) -> str:
        """The note's text, once its signature by the key verified."""
        return self.ask(op="note", key=verifier_key, note=note)["text"]

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=10)


def build(directory: Path) -> Path | None:
    """The verifier built into ``directory``; None without Go or golang.org/x/mod."""
    go = shutil.which("go")
    if go is None or not (GOPATH / "src/golang.org/x/mod/sumdb/tlog").is_dir():
        return None
    binary = directory / "tlogcheck"
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": str(GOPATH), "GOFLAGS": ""}
    env.setdefault("GOCACHE", str(directory / "gocache"))
    subprocess.run([go, "build", "-o", str(binary), "."], cwd=SOURCE, env=env, check=True)
    return binary
