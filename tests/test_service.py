"""The HTTP service against a real uvicorn on 127.0.0.1 (docs/service.md): results equal to
the CLI's on every bundled example, the documented errors (401, 404, 413, 422 located, 503 on
a timeout), the decision log verified, broken and replayed, and property-based calls from
the OpenAPI spec (schemathesis) that never get a 500.

One server for the module (packs load once, as in production); the few tests that need other
options (a short timeout, masking, two workers) start their own."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from yibao_credit.cli.main import main
from yibao_credit.service.app import create_app
from yibao_credit.service.config import ServiceConfig

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples"
INPUTS = ROOT / "tests" / "golden" / "inputs"
TOKEN = "test-token-" + "x" * 24
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def post(self, path: str, body: Any, **kw: Any) -> httpx.Response:
        headers = {**AUTH, **kw.pop("headers", {})}
        return httpx.post(f"{self.url}{path}", json=body, headers=headers, timeout=60, **kw)


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    file = tmp_path_factory.mktemp("tokens") / "tokens"
    file.write_text(f"# test callers\nops:{TOKEN}\n", encoding="utf-8")
    file.chmod(0o600)
    return file


def start_server(tmp: Path, *options: str) -> Server:
    port = free_port()
    log = tmp / "decisions"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "yibao_credit",
            "serve",
            "--port",
            str(port),
            "--decision-log",
            str(log),
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"serve stopped: {process.stderr.read().decode() if process.stderr else ''}"
            )
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                return Server(url, log, process)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("serve did not answer within 60 s")


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(20)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tokens: Path) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("service"),
        "--token-file",
        str(tokens),
        "--max-body-bytes",
        str(4 * 1024 * 1024),
        "--rotate-bytes",
        str(1024 * 1024),
    )
    yield srv
    stop(srv)


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


EXAMPLES = [
    ("zhenjiang", "zhenjiang", "2024-12-31", {}),
    ("zhenjiang", "zhenjiang", "2024-03-31", {}),
    ("zhenjiang", "zhenjiang", "2024-12-31", {"history": INPUTS / "zj-2023.jsonl"}),
    (
        "zhenjiang",
        "zhenjiang",
        "2024-12-31",
        {"procedures": INPUTS / "zj-proc.jsonl", "on": "2025-01-31"},
    ),
    ("shenzhen", "shenzhen", "2024-12-31", {}),
    ("jinan", "jinan", "2023-12-31", {}),
    ("jinan", "jinan", "2024-12-31", {"history": INPUTS / "jinan-2023.jsonl"}),
    ("jiangsu_perf", "jiangsu", "2025-03-31", {}),
    ("jiangsu_perf", "jiangsu", "2024-03-31", {}),
    ("suqian_perf", "jiangsu", "2025-03-31", {}),
]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    return code, capsys.readouterr().out


def call_of(folder: str, as_of: str, extra: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subjects": rows(EX / folder / "subjects.jsonl"),
        "events": rows(EX / folder / "events.jsonl"),
        "as_of": as_of,
    }
    for key in ("history", "procedures"):
        if key in extra:
            body[key] = rows(extra[key])
    if "on" in extra:
        body["on"] = extra["on"]
    return body


def cli_args(pack: str, folder: str, as_of: str, extra: dict[str, Any]) -> list[str]:
    argv = [
        pack,
        "--subjects",
        str(EX / folder / "subjects.jsonl"),
        "--events",
        str(EX / folder / "events.jsonl"),
        "--as-of",
        as_of,
    ]
    for key in ("history", "procedures", "on"):
        if key in extra:
            argv += [f"--{key}", str(extra[key])]
    return argv


@pytest.mark.parametrize(
    ("pack", "folder", "as_of", "extra"),
    EXAMPLES,
    ids=[f"{p}-{a}-{'-'.join(e) or 'plain'}" for p, _, a, e in EXAMPLES],
)
def test_results_equal_the_cli_on_every_bundled_example(
    server: Server,
    capsys: pytest.CaptureFixture[str],
    pack: str,
    folder: str,
    as_of: str,
    extra: dict[str, Any],
) -> None:
    body = call_of(folder, as_of, extra)
    for trace, lang in (("full", "zh"), ("decisive", "en"), ("none", "zh")):
        code, expected = cli(
            capsys,
            "evaluate",
            *cli_args(pack, folder, as_of, extra),
            "--trace",
            trace,
            "--lang",
            lang,
        )
        assert code == 0
        answer = server.post(
            f"/v1/packs/{pack}/evaluate",
            {**body, "trace": trace, "lang": lang},
            headers={"Accept": "application/x-ndjson"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/x-ndjson"
        assert answer.text == expected
    code, summary = cli(
        capsys, "summary", *cli_args(pack, folder, as_of, extra), "--format", "json"
    )
    assert server.post(f"/v1/packs/{pack}/summary", body).json()["summary"] == json.loads(summary)


def test_the_json_answer_holds_the_same_results_and_the_warnings(server: Server) -> None:
    body = call_of("zhenjiang", "2024-12-31", {})
    lines = server.post(
        "/v1/packs/zhenjiang/evaluate", body, headers={"Accept": "application/x-ndjson"}
    ).text.splitlines()
    answer = server.post("/v1/packs/zhenjiang/evaluate", body)
    data = answer.json()
    assert data["results"] == [json.loads(line) for line in lines]
    assert data["policy"]["id"] == "zhenjiang"
    codes = [w["code"] for w in data["warnings"]]
    assert "eval.after-as-of" in codes  # an event of 2025-01-06 in the example
    assert answer.headers["yibao-decision-id"] == data["decision_id"]


def test_headers_name_the_pack_version_and_engine(server: Server) -> None:
    from yibao_credit import __version__
    from yibao_credit.policy import load_policies

    answer = server.post("/v1/packs/jiangsu_perf/evaluate", call_of("jiangsu", "2024-03-31", {}))
    expected = load_policies("jiangsu_perf").for_as_of(__import__("datetime").date(2024, 3, 31))
    assert answer.headers["yibao-pack-id"] == "jiangsu_perf"
    # A version name may be Chinese; header values are Latin-1, so it is percent-encoded.
    from urllib.parse import unquote

    assert unquote(answer.headers["yibao-pack-version"]) == expected.version == "2023评价版"
    assert answer.headers["yibao-pack-sha256"] == expected.sha256
    assert answer.headers["yibao-engine-version"] == __version__


def test_explain_and_allocate_answer_as_the_cli_does(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    body = call_of("zhenjiang", "2024-12-31", {})
    code, text = cli(
        capsys,
        "explain",
        *cli_args("zhenjiang", "zhenjiang", "2024-12-31", {}),
        "--subject",
        "ZJH002",
    )
    answer = server.post("/v1/packs/zhenjiang/explain", {**body, "subject_ids": ["ZJH002"]})
    assert answer.status_code == 200
    assert answer.json()["explanations"][0]["text"] + "\n\n" == text
    missing = server.post("/v1/packs/zhenjiang/explain", {**body, "subject_ids": ["NOPE"]})
    assert missing.status_code == 422 and missing.json()["code"] == "request.unknown-subject"

    jiangsu = call_of("jiangsu", "2025-03-31", {})
    deposits = rows(EX / "jiangsu" / "deposits.jsonl")
    argv = cli_args("jiangsu_perf", "jiangsu", "2025-03-31", {})
    code, shares = cli(
        capsys,
        "allocate",
        *argv,
        "--deposits",
        str(EX / "jiangsu" / "deposits.jsonl"),
        "--format",
        "jsonl",
    )
    assert code == 0
    answer = server.post("/v1/packs/jiangsu_perf/allocate", {**jiangsu, "deposits": deposits})
    assert answer.status_code == 200, answer.text
    assert answer.json()["shares"] == [json.loads(line) for line in shares.splitlines()]
    assert answer.json()["allocated"] == sum(s["allocated"] for s in answer.json()["shares"])


def test_pack_listing_versions_and_provisional_values(server: Server) -> None:
    packs = httpx.get(f"{server.url}/v1/packs", headers=AUTH).json()
    assert [p["id"] for p in packs] == [
        "huzhou",
        "jiangsu_perf",
        "jinan",
        "shenzhen",
        "suqian_perf",
        "zhenjiang",
    ]
    jiangsu = httpx.get(f"{server.url}/v1/packs/jiangsu_perf", headers=AUTH).json()
    assert [v["version"] for v in jiangsu["versions"]] == ["2023评价版", "2024"]
    assert jiangsu["versions"][0]["sources"]
    provisional = httpx.get(f"{server.url}/v1/packs/jinan/provisional", headers=AUTH).json()
    assert provisional and {"version", "path", "line", "note"} <= set(provisional[0])
    assert all(set(p["note"]) == {"zh", "en"} and p["note"]["zh"] for p in provisional)
    unknown = httpx.get(f"{server.url}/v1/packs/hangzhou", headers=AUTH)
    assert unknown.status_code == 404 and "zhenjiang" in unknown.json()["message"]


def test_health_needs_no_token_and_everything_else_does(server: Server) -> None:
    assert httpx.get(f"{server.url}/v1/health").json() == {"live": True, "ready": True, "packs": 6}
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-wrong-token"},
        {"Authorization": TOKEN},
    ):
        answer = httpx.get(f"{server.url}/v1/packs", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["code"] == "service.unauthorized"
        post = httpx.post(
            f"{server.url}/v1/packs/zhenjiang/evaluate",
            json={"subjects": [], "as_of": "2024-12-31"},
            headers=headers,
        )
        assert post.status_code == 401


def test_a_body_over_the_limit_is_413_by_length_and_when_streamed(server: Server) -> None:
    big = (
        b'{"subjects": [], "as_of": "2024-12-31", "events": [' + b'{"id": "e"},' * 400_000 + b"{}]}"
    )
    answer = httpx.post(f"{server.url}/v1/packs/zhenjiang/evaluate", content=big, headers=AUTH)
    assert answer.status_code == 413
    assert answer.json()["code"] == "service.too-large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    streamed = httpx.post(
        f"{server.url}/v1/packs/zhenjiang/evaluate", content=chunks(), headers=AUTH
    )
    assert streamed.status_code == 413


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"subjects": [{"id": "H1", "type": "institution"}],\n "as_of": 2024-12-31}',
            {"record": "body", "line": 2, "column": 15, "code": "request.json"},
        ),
        (
            b'{"subjects": [], "as_of": "2024-12-31", "as_of": "2025-01-01"}',
            {"record": "body", "field": "as_of", "code": "request.duplicate-key"},
        ),
        (
            b'{"subjects": [], "as_of": "2024-02-30"}',
            {"record": "body", "field": "as_of", "code": "request.field"},
        ),
        (
            b'{"subjects": [], "as_of": "2024-12-31", "trace": "some"}',
            {"record": "body", "field": "trace", "code": "request.field"},
        ),
        (
            b'{"as_of": "2024-12-31"}',
            {"record": "body", "field": "subjects", "code": "request.missing"},
        ),
        (
            b'{"subjects": [], "as_of": "2024-12-31", "asof": "x"}',
            {"record": "body", "field": "asof", "code": "request.unknown-field"},
        ),
        (
            b'{"subjects": [{"id": "H1", "type": "institution"}, 7], "as_of": "2024-12-31"}',
            {"record": "subjects", "line": 2, "code": "request.field"},
        ),
        (
            b'{"subjects": [{"id": "H1", "type": "institution"},'
            b' {"id": "H2", "type": "institution", "designated_on": "2024-02-30"}],'
            b' "as_of": "2024-12-31"}',
            {"record": "subjects", "line": 2, "field": "designated_on"},
        ),
        (
            b'{"subjects": [{"id": "H1", "type": "institution"}], "as_of": "2024-12-31",'
            b' "events": [{"id": "E1", "subject_id": "H9", "kind": "violation",'
            b' "date": "2024-01-02"}]}',
            {
                "record": "events",
                "line": 1,
                "field": "subject_id",
                "code": "record.event.unknown-subject",
            },
        ),
        (
            b'{"subjects": [{"id": "H1", "type": "institution", "beds": 1.5}],'
            b' "as_of": "2024-12-31"}',
            {"record": "subjects", "line": 1, "field": "beds"},
        ),
    ],
    ids=[
        "json",
        "duplicate-key",
        "no-such-day",
        "trace",
        "missing",
        "unknown-field",
        "not-an-object",
        "subject-date",
        "orphan-event",
        "beds-not-int",
    ],
)
def test_bad_calls_get_422_with_located_errors(
    server: Server, body: bytes, expected: dict[str, Any]
) -> None:
    answer = httpx.post(
        f"{server.url}/v1/packs/zhenjiang/evaluate",
        content=body,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    data = answer.json()
    assert set(data) == {"code", "message", "errors"}
    first = data["errors"][0]
    assert {k: first.get(k) for k in expected} == expected, data
    assert data["code"] == first["code"]


def test_strict_makes_warnings_errors(server: Server) -> None:
    body = {**call_of("zhenjiang", "2024-12-31", {}), "strict": True}
    answer = server.post("/v1/packs/zhenjiang/evaluate", body)
    assert answer.status_code == 422
    assert {e["code"] for e in answer.json()["errors"]} >= {"eval.no-history", "eval.after-as-of"}


def test_every_decision_is_logged_verified_and_replayed_identically(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    body = call_of("jinan", "2024-12-31", {"history": INPUTS / "jinan-2023.jsonl"})
    answer = server.post("/v1/packs/jinan/evaluate", body)
    decision = answer.json()["decision_id"]
    code, out = cli(capsys, "decisions", "verify", str(server.log))
    assert code == 0 and "chain intact" in out
    line = next(
        json.loads(raw)
        for p in sorted(server.log.glob("decisions-*.jsonl"))
        for raw in p.read_text(encoding="utf-8").splitlines()
        if decision in raw
    )
    assert line["caller"] == "ops" and TOKEN not in json.dumps(line)
    assert line["pack"]["id"] == "jinan" and line["as_of"] == "2024-12-31"
    assert [o["subject_id"] for o in line["outcomes"]] == [
        r["subject_id"] for r in answer.json()["results"]
    ]
    assert line["warnings"] == [] or all(isinstance(w, str) for w in line["warnings"])
    code, out = cli(capsys, "decisions", "replay", str(server.log), "--id", decision)
    assert code == 0, out
    report = json.loads(out)
    assert report["identical"] is True and report["input_intact"] is True


def test_a_changed_byte_or_a_deleted_line_of_a_copy_of_the_log_is_found(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    for n in range(3):
        server.post("/v1/packs/zhenjiang/summary", {"subjects": [], "as_of": f"2024-12-{n + 10}"})
    edited = tmp_path / "edited"
    shutil.copytree(server.log, edited)
    first = sorted(edited.glob("decisions-*.jsonl"))[-1]
    data = first.read_bytes()
    at = data.index(b"2024-12-11")
    first.write_bytes(data[:at] + b"2024-12-12" + data[at + 10 :])
    code, _ = cli(capsys, "decisions", "verify", str(edited))
    assert code == 1
    deleted = tmp_path / "deleted"
    shutil.copytree(server.log, deleted)
    last = sorted(deleted.glob("decisions-*.jsonl"))[-1]
    kept = last.read_bytes().splitlines(keepends=True)
    last.write_bytes(b"".join(kept[:-2] + kept[-1:]))
    capsys.readouterr()
    assert main(["decisions", "verify", str(deleted)]) == 1
    assert f"{last}:{len(kept) - 1}: prev is" in capsys.readouterr().err


def test_a_call_past_the_timeout_is_503_and_the_worker_goes_on(
    tmp_path: Path, tokens: Path
) -> None:
    srv = start_server(tmp_path, "--token-file", str(tokens), "--timeout", "0.2")
    try:
        subjects = [
            {
                "id": f"P{n:05d}",
                "type": "institution",
                "category": "pharmacy",
                "designated_on": "2010-01-01",
            }
            for n in range(40_000)
        ]
        started = time.monotonic()
        answer = srv.post(
            "/v1/packs/zhenjiang/evaluate", {"subjects": subjects, "as_of": "2024-12-31"}
        )
        assert answer.status_code == 503
        assert answer.json()["code"] == "service.timeout"
        assert time.monotonic() - started < 10
        small = srv.post("/v1/packs/zhenjiang/evaluate", call_of("zhenjiang", "2024-12-31", {}))
        assert small.status_code == 200
        assert verify_count(srv.log) == 1  # the stopped call decided nothing and logged nothing
    finally:
        stop(srv)


def verify_count(folder: Path) -> int:
    from yibao_credit.service.decisions import verify

    result = verify(folder)
    assert result.problems == []
    return result.count


def test_personal_fields_are_masked_in_the_log_and_the_replay_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    srv = start_server(tmp_path, "--personal", "subjects.name", "--no-fsync")
    try:
        body = call_of("zhenjiang", "2024-12-31", {})
        decision = srv.post("/v1/packs/zhenjiang/evaluate", body).json()["decision_id"]
    finally:
        stop(srv)
    text = "".join(p.read_text(encoding="utf-8") for p in srv.log.glob("decisions-*.jsonl"))
    names = [s["name"] for s in body["subjects"] if s.get("name")]
    assert names and not any(f'"{n}"' in text for n in names)
    assert '"name":"***"' in text
    code, out = cli(capsys, "decisions", "replay", str(srv.log), "--id", decision)
    report = json.loads(out)
    assert report["input_intact"] is None  # the logged input is not the input
    assert report["same_outcomes"] is True
    assert code == 0


def test_two_workers_write_one_chain(tmp_path: Path) -> None:
    srv = start_server(tmp_path, "--workers", "2", "--no-fsync")
    try:
        body = {"subjects": rows(EX / "jinan" / "subjects.jsonl"), "as_of": "2023-12-31"}
        with httpx.Client(timeout=60) as client:
            for _ in range(30):
                assert (
                    client.post(f"{srv.url}/v1/packs/jinan/evaluate", json=body).status_code == 200
                )
    finally:
        stop(srv)
    assert verify_count(srv.log) == 30


def test_serve_refuses_a_bad_start(tmp_path: Path) -> None:
    broken = tmp_path / "city.yaml"
    broken.write_text((INPUTS / "city.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "yibao_credit",
            "serve",
            "--packs",
            str(broken),
            "--decision-log",
            str(tmp_path / "log"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert f"{broken}:" in run.stderr  # located: file:line
    exposed = subprocess.run(
        [
            sys.executable,
            "-m",
            "yibao_credit",
            "serve",
            "--host",
            "0.0.0.0",
            "--decision-log",
            str(tmp_path / "log"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert exposed.returncode == 2 and "--token-file" in exposed.stderr


# -- property-based calls from the OpenAPI spec ----------------------------------------------


def _spec() -> dict[str, Any]:
    """The spec the served app publishes at /openapi.json (the same code builds it)."""
    with tempfile.TemporaryDirectory() as log:
        return create_app(ServiceConfig(decision_log=log, packs=["jinan"])).openapi()


schema = schemathesis.openapi.from_dict(_spec())


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_call_gets_a_server_error(case: schemathesis.Case, server: Server) -> None:
    case.call_and_validate(
        base_url=server.url,
        headers=AUTH,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance],
    )
