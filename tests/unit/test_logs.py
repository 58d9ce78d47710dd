"""Logging for `ledger serve` and `ledger workers`: text or one JSON object a line, on stderr."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from ledger.service import log_output as logs


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_root")
def test_the_json_format_writes_one_json_object_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("INFO", "json")
    logs.configure("INFO", "json")  # configuring twice does not double the lines
    token = logs.request_id.set("req-42")
    try:
        logging.getLogger("ledger.test").info("hello %s", "world", extra={"status": 200})
    finally:
        logs.request_id.reset(token)
    logging.getLogger("ledger.test").debug("not at INFO")
    (line,) = capsys.readouterr().err.splitlines()
    entry = json.loads(line)
    assert entry["level"] == "INFO" and entry["logger"] == "ledger.test"
    assert entry["message"] == "hello world"
    assert (entry["request_id"], entry["status"]) == ("req-42", 200)
    assert entry["time"].endswith("+00:00")


@pytest.mark.usefixtures("restore_root")
def test_the_text_format_and_the_level(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("warning", "text")
    logging.getLogger("ledger.test").info("quiet")
    logging.getLogger("ledger.test").warning("loud")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith("WARNING ledger.test: loud")
