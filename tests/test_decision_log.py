"""The decision log (docs/service.md, "Decision log"): a hash chain that any edit or deletion
breaks, across rotated files and across worker processes; located errors for every break.

These run the log alone; tests/test_service.py runs it behind a real uvicorn."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yibao_credit.cli.main import main
from yibao_credit.service.config import ServiceError, read_tokens
from yibao_credit.service.decisions import (
    GENESIS,
    DecisionLog,
    DecisionLogError,
    check_personal,
    mask,
    verify,
)


def entry(n: int) -> dict[str, object]:
    return {"decision_id": f"d{n}", "endpoint": "evaluate", "input": {"n": n, "text": "评价" * n}}


def lines_of(folder: Path) -> list[tuple[Path, bytes]]:
    return [
        (p, line)
        for p in sorted(folder.glob("decisions-*.jsonl"))
        for line in p.read_bytes().splitlines(keepends=True)
    ]


def test_an_empty_log_is_intact_and_its_head_is_the_genesis(tmp_path: Path) -> None:
    DecisionLog(tmp_path / "log")
    result = verify(tmp_path / "log")
    assert (result.count, result.head, result.problems) == (0, GENESIS, [])


def test_each_line_names_the_hash_of_the_line_before(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path, fsync=False)
    first = log.append(entry(1))
    second = log.append(entry(2))
    assert first["prev"] == GENESIS and first["seq"] == 1
    assert second["prev"] == first["sha256"] and second["seq"] == 2
    head = json.loads((tmp_path / "head.json").read_text())
    assert head == {"file": "decisions-000001.jsonl", "seq": 2, "sha256": second["sha256"]}
    assert verify(tmp_path).problems == []
    assert verify(tmp_path).head == second["sha256"]


def test_rotation_starts_a_new_file_and_the_chain_runs_on(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path, rotate_bytes=300, fsync=False)
    written = [log.append(entry(n)) for n in range(1, 8)]
    files = sorted(p.name for p in tmp_path.glob("decisions-*.jsonl"))
    assert len(files) >= 3
    assert files[0] == "decisions-000001.jsonl"
    result = verify(tmp_path)
    assert result.problems == [] and result.count == 7
    assert result.head == written[-1]["sha256"]


def test_a_new_writer_goes_on_from_the_chain_another_one_wrote(tmp_path: Path) -> None:
    """A restart, or a second worker: the tip is read from the files, not remembered."""
    DecisionLog(tmp_path, fsync=False).append(entry(1))
    DecisionLog(tmp_path, fsync=False).append(entry(2))
    assert verify(tmp_path).problems == [] and verify(tmp_path).count == 2


def _append_many(folder: str, start: int) -> None:
    log = DecisionLog(folder, rotate_bytes=2000, fsync=False)
    for n in range(start, start + 25):
        log.append(entry(n))


def test_four_processes_appending_at_once_keep_one_chain(tmp_path: Path) -> None:
    """uvicorn's --workers are processes: the lock and the tip read under it keep the chain
    whole and the seq without gaps, across rotations."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(tmp_path), 100 * i)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    result = verify(tmp_path)
    assert result.problems == []
    assert result.count == 100
    assert len(list(tmp_path.glob("decisions-*.jsonl"))) > 1


def _codes(folder: Path) -> set[str]:
    return {p.code for p in verify(folder).problems}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    count=st.integers(2, 9),
    rotate=st.sampled_from([250, 600, 10_000]),
    pick=st.integers(0, 10_000),
    offset=st.integers(0, 10_000),
)
def test_changing_any_byte_of_any_line_breaks_the_chain(
    tmp_path_factory: pytest.TempPathFactory, count: int, rotate: int, pick: int, offset: int
) -> None:
    folder = tmp_path_factory.mktemp("log")
    log = DecisionLog(folder, rotate_bytes=rotate, fsync=False)
    for n in range(count):
        log.append(entry(n))
    lines = lines_of(folder)
    path, line = lines[pick % len(lines)]
    data = bytearray(path.read_bytes())
    at = data.index(line) + offset % (len(line) - 1)  # not the newline itself
    data[at] = ord("#") if data[at] != ord("#") else ord("!")
    path.write_bytes(bytes(data))
    assert verify(folder).problems, "an edit went unseen"


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(count=st.integers(1, 8), rotate=st.sampled_from([250, 10_000]), pick=st.integers(0, 100))
def test_deleting_any_line_breaks_the_chain(
    tmp_path_factory: pytest.TempPathFactory, count: int, rotate: int, pick: int
) -> None:
    """Also the last one: head.json then names a line that is gone."""
    folder = tmp_path_factory.mktemp("log")
    log = DecisionLog(folder, rotate_bytes=rotate, fsync=False)
    for n in range(count):
        log.append(entry(n))
    lines = lines_of(folder)
    path, line = lines[pick % len(lines)]
    path.write_bytes(path.read_bytes().replace(line, b"", 1))
    assert _codes(folder) & {"decisions.chain", "decisions.seq", "decisions.head"}


def test_a_deleted_line_is_located_at_the_line_after_it(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path, fsync=False)
    for n in range(4):
        log.append(entry(n))
    path = tmp_path / "decisions-000001.jsonl"
    kept = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([kept[0], kept[2], kept[3]]))
    problems = verify(tmp_path).problems
    assert [(p.code, p.location.line) for p in problems] == [
        ("decisions.chain", 2),
        ("decisions.seq", 2),
    ]
    assert str(path) == problems[0].location.file


def test_a_deleted_file_is_a_gap(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path, rotate_bytes=250, fsync=False)
    for n in range(6):
        log.append(entry(n))
    (tmp_path / "decisions-000002.jsonl").unlink()
    assert "decisions.file-gap" in _codes(tmp_path)


def test_a_head_recorded_elsewhere_catches_a_rewritten_end(tmp_path: Path) -> None:
    """Someone who can write the folder can cut the last line and rewrite head.json; the head
    anchored outside (--expect-head) still shows it."""
    log = DecisionLog(tmp_path, fsync=False)
    log.append(entry(1))
    anchored = log.append(entry(2))["sha256"]
    path = tmp_path / "decisions-000001.jsonl"
    first = path.read_bytes().splitlines(keepends=True)[0]
    path.write_bytes(first)
    digest = verify(tmp_path).head
    (tmp_path / "head.json").write_text(
        json.dumps({"file": path.name, "seq": 1, "sha256": digest}), encoding="utf-8"
    )
    assert verify(tmp_path).problems == []
    assert "decisions.head" in {p.code for p in verify(tmp_path, anchored).problems}


def test_a_torn_last_line_stops_the_log_from_opening(tmp_path: Path) -> None:
    DecisionLog(tmp_path, fsync=False).append(entry(1))
    with (tmp_path / "decisions-000001.jsonl").open("ab") as f:
        f.write(b'{"decision_id": "cut')
    with pytest.raises(DecisionLogError) as err:
        DecisionLog(tmp_path)
    assert err.value.problems[0].code == "decisions.torn-line"
    assert "decisions.torn-line" in _codes(tmp_path)


def test_verify_command_prints_the_head_and_exits_1_on_a_break(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = DecisionLog(tmp_path, fsync=False)
    head = [log.append(entry(n)) for n in range(3)][-1]["sha256"]
    assert main(["decisions", "verify", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"3 decision(s); chain intact; head {head}\n"
    path = tmp_path / "decisions-000001.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"d1"', b'"dX"'))
    assert main(["decisions", "verify", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "chain BROKEN" in captured.out
    assert f"{path}:3: prev is" in captured.err and "[decisions.chain]" in captured.err


def test_masking_replaces_personal_values_and_counts_them() -> None:
    body = {
        "subjects": [
            {"id": "P1", "name": "张三", "attributes": {"id_card": "3201…", "level": 2}},
            {"id": "P2", "attributes": {"id_card": None}},
        ],
        "events": [{"id": "E1", "attributes": {"patient": "李四"}}],
    }
    masked, count = mask(
        body, ["subjects.name", "subjects.attributes.id_card", "events.attributes.*"]
    )
    assert count == 3
    assert masked["subjects"][0] == {
        "id": "P1",
        "name": "***",
        "attributes": {"id_card": "***", "level": 2},
    }
    assert masked["subjects"][1] == {"id": "P2", "attributes": {"id_card": None}}
    assert masked["events"][0]["attributes"] == {"patient": "***"}
    assert body["subjects"][0]["name"] == "张三"  # the call's own input is untouched


def test_a_personal_field_must_name_a_record_array() -> None:
    with pytest.raises(DecisionLogError) as err:
        check_personal(["name"])
    assert "subjects.name" in str(err.value)


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("ops:short\n", 1, "at least 16"),
        ("# callers\n\nops tokentokentokentoken\n", 3, "ID:TOKEN"),
        ("a:" + "x" * 20 + "\na:" + "y" * 20 + "\n", 2, "again (first on line 1)"),
        ("a:" + "x" * 20 + "\nb:" + "x" * 20 + "\n", 2, "the same token as 'a'"),
    ],
)
def test_token_file_problems_are_located(tmp_path: Path, text: str, line: int, says: str) -> None:
    file = tmp_path / "tokens"
    file.write_text(text, encoding="utf-8")
    file.chmod(0o600)
    with pytest.raises(ServiceError) as err:
        read_tokens(file)
    (problem,) = err.value.problems
    assert (problem.location.file, problem.location.line) == (str(file), line)
    assert says in problem.message


def test_a_token_file_others_can_read_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "tokens"
    file.write_text("ops:" + "t" * 32 + "\n", encoding="utf-8")
    file.chmod(0o644)
    with pytest.raises(ServiceError, match="chmod 600"):
        read_tokens(file)
    file.chmod(0o600)
    callers = read_tokens(file)
    assert callers.caller("t" * 32) == "ops" and callers.caller("t" * 31) is None
