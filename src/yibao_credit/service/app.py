"""The HTTP API (FastAPI on uvicorn): OpenFisca's web API and OPA's REST API for 医保 packs.

Every call is parsed here, not by FastAPI, so that a bad body gets the library's own located
errors (``{code, message, errors: [{record, line, field, code, message}]}``, 422) and JSON the
data contract refuses (``NaN``, a key given twice) is refused here too. A call runs in a worker
thread under a deadline (``bulk.checkpoint``): past ``timeout`` the caller gets 503 and the
thread stops at its next checkpoint. A decision is logged before it is answered.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from yibao_credit.bulk import DeadlineExceeded, deadline
from yibao_credit.errors import Problem, YibaoError
from yibao_credit.policy import PolicySet
from yibao_credit.service.calls import CALLS, SOURCE, Answer, Call, answer, plain
from yibao_credit.service.config import Callers, ServiceConfig, load_packs, read_tokens
from yibao_credit.service.decisions import (
    DecisionLog,
    RawJson,
    canonical_json,
    check_personal,
    keep_pack,
    mask,
    sha256_text,
)

ENV = "YIBAO_SERVICE_CONFIG"
"""The environment variable that hands ``serve``'s configuration to each worker process."""

NDJSON = "application/x-ndjson"
ARRAYS = ("subjects", "events", "history", "procedures", "deposits")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def engine_version() -> str:
    """The installed package's version (as ``yibao-credit --version`` prints it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("yibao-credit")
    except PackageNotFoundError:  # a source folder never installed
        return "0+unknown"


# -- errors as the API writes them ----------------------------------------------------------


def error_item(p: Problem) -> dict[str, Any]:
    """One located problem: which record array (or ``body``, ``pack``), its 1-based position
    (``line``, as the same record's line in a JSON Lines file), the field and the code."""
    loc = p.location
    record: str | None = None
    if loc.file and loc.file.startswith(f"{SOURCE}[") and loc.file.endswith("]"):
        record = loc.file[len(SOURCE) + 1 : -1]
    elif loc.file == "body":
        record = "body"
    elif loc.file:
        record = "pack"
    item: dict[str, Any] = {
        "record": record,
        "line": loc.line,
        "field": loc.path,
        "code": p.code,
        "message": p.message,
    }
    if loc.column is not None and record == "body":
        item["column"] = loc.column
    return item


def error_response(
    status: int,
    code: str,
    message: str,
    problems: Sequence[Problem] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"code": code, "message": message, "errors": [error_item(p) for p in problems]}
    return JSONResponse(body, status_code=status, headers=headers)


def problems_response(problems: list[Problem]) -> JSONResponse:
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return error_response(422, first.code, f"{first.message}{more}", problems)


class BadBody(YibaoError):
    """A body that is not the JSON object the call takes."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number: the data contract writes numbers only")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _DuplicateKey(key)
    return out


class _DuplicateKey(ValueError):
    pass


def parse_body(raw: bytes, model: type[Call]) -> tuple[dict[str, Any], Call]:
    """The body as parsed and the call it holds, or ``BadBody`` with every problem located
    in it."""
    from yibao_credit.errors import Location

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody(
            Problem(
                "request.encoding",
                f"the body is not UTF-8: {exc.reason} at byte {exc.start}",
                Location("body"),
            )
        ) from None
    try:
        data = json.loads(text, object_pairs_hook=_object, parse_constant=_reject_constant)
    except _DuplicateKey as exc:
        raise BadBody(
            Problem(
                "request.duplicate-key",
                f"duplicate key {exc.args[0]!r}: a key appears once in an object",
                Location("body", None, None, str(exc.args[0])),
            )
        ) from None
    except json.JSONDecodeError as exc:
        raise BadBody(
            Problem("request.json", f"not JSON: {exc.msg}", Location("body", exc.lineno, exc.colno))
        ) from None
    except (ValueError, RecursionError) as exc:
        raise BadBody(Problem("request.json", str(exc), Location("body"))) from None
    if not isinstance(data, dict):
        raise BadBody(
            Problem(
                "request.json", "the body is a JSON object of the call's fields", Location("body")
            )
        )
    try:
        return data, model.model_validate(data)
    except ValidationError as exc:
        raise BadBody([_validation_problem(e) for e in exc.errors(include_url=False)]) from None


def _validation_problem(err: Any) -> Problem:
    from yibao_credit.errors import Location

    loc = list(err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    code = "request.missing" if err["type"] == "missing" else "request.field"
    if err["type"] == "extra_forbidden":
        code, msg = "request.unknown-field", "not a field of this call"
    if len(loc) >= 2 and loc[0] in ARRAYS and isinstance(loc[1], int):
        path = ".".join(str(p) for p in loc[2:]) or None
        return Problem(code, msg, Location(f"{SOURCE}[{loc[0]}]", loc[1] + 1, None, path))
    return Problem(code, msg, Location("body", None, None, ".".join(str(p) for p in loc)))


# -- middleware -----------------------------------------------------------------------------


class _TooLarge(Exception):
    pass


class Limits:
    """Pure ASGI: 413 for a body over the limit (by Content-Length, or counted as it
    arrives), and the engine version on every response."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes
        self.version = engine_version().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"yibao-engine-version", self.version),
                ]
            await send(message)

        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._too_large(scope, receive, tagged)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge
            return message

        await self.app(scope, counted, tagged)  # the app answers _TooLarge (too_large)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await too_large(self.limit)(scope, receive, send)


def too_large(limit: int) -> JSONResponse:
    return error_response(
        413,
        "service.too-large",
        f"the body is over the service's limit of {limit} bytes: send fewer records per "
        "call, or start the service with a larger --max-body-bytes",
    )


# -- the application ------------------------------------------------------------------------


@dataclass
class Service:
    """What the app holds from start to stop."""

    config: ServiceConfig
    packs: dict[str, PolicySet]
    callers: Callers | None
    log: DecisionLog


def start(config: ServiceConfig) -> Service:
    """Load and compile the packs, read the tokens, open the log: any problem stops here."""
    check_personal(config.personal)
    packs = load_packs(config.packs)
    callers = read_tokens(config.token_file) if config.token_file else None
    log = DecisionLog(config.decision_log, rotate_bytes=config.rotate_bytes, fsync=config.fsync)
    for pack in packs.values():
        for version in pack.versions:
            keep_pack(log.folder, version)
    return Service(config, packs, callers, log)


_bearer = HTTPBearer(auto_error=False, description="a token of the service's --token-file")

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no valid bearer token"},
    404: {"description": "no such pack"},
    413: {"description": "body over --max-body-bytes"},
    422: {"description": "the call's located errors: {code, message, errors: [...]}"},
    503: {"description": "the call ran past --timeout"},
}


def create_app(config: ServiceConfig) -> FastAPI:
    service = start(config)
    app = FastAPI(
        docs_url=None,  # Swagger UI loads its scripts from a CDN; intranets are offline
        redoc_url=None,
        title="yibao-credit",
        version=engine_version(),
        description="医保 credit, performance and audit rules as executable YAML packs: "
        "evaluate records against a pack, with a trace citing the published clause of every "
        "step, each decision logged in a hash chain.",
    )
    app.state.service = service

    def caller(
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
    ) -> str | None:
        if service.callers is None:
            return None
        who = service.callers.caller(credentials.credentials) if credentials else None
        if who is None:
            raise _Unauthorized
        return who

    @app.exception_handler(_Unauthorized)
    async def unauthorized(_request: Request, _exc: Exception) -> JSONResponse:
        return error_response(
            401,
            "service.unauthorized",
            "a valid bearer token is needed: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )

    def pack(pack_id: str) -> PolicySet:
        found = service.packs.get(pack_id)
        if found is None:
            raise _UnknownPack(pack_id)
        return found

    @app.exception_handler(_TooLarge)
    async def body_too_large(_request: Request, _exc: Exception) -> JSONResponse:
        return too_large(config.max_body_bytes)

    @app.exception_handler(_UnknownPack)
    async def unknown_pack(_request: Request, exc: Exception) -> JSONResponse:
        known = ", ".join(service.packs)
        return error_response(
            404, "service.unknown-pack", f"no pack {exc.args[0]!r} here; the packs are: {known}"
        )

    @app.get("/v1/health", tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness and readiness: ready once every pack is loaded and compiled (which is
        before the service listens)."""
        return {"live": True, "ready": True, "packs": len(service.packs)}

    @app.get("/v1/packs", tags=["packs"], responses={401: _ERRORS[401]})
    def packs(_who: str | None = Depends(caller)) -> list[dict[str, Any]]:
        return [_pack_info(p, sources=False) for p in service.packs.values()]

    @app.get(
        "/v1/packs/{pack_id}", tags=["packs"], responses={401: _ERRORS[401], 404: _ERRORS[404]}
    )
    def pack_info(pack_id: str, _who: str | None = Depends(caller)) -> dict[str, Any]:
        return _pack_info(pack(pack_id), sources=True)

    @app.get(
        "/v1/packs/{pack_id}/provisional",
        tags=["packs"],
        responses={401: _ERRORS[401], 404: _ERRORS[404]},
    )
    def provisional(pack_id: str, _who: str | None = Depends(caller)) -> list[dict[str, Any]]:
        """Every value no published text sets, per version, with the decision that must
        confirm it."""
        out = []
        for version in pack(pack_id).versions:
            for v in version.provisional():
                out.append(
                    {
                        "version": version.version,
                        "path": v.path,
                        "line": v.line,
                        "file": Path(v.file).name if v.file else None,
                        "note": {"zh": v.get("zh"), "en": v.get("en")},
                    }
                )
        return out

    for endpoint, model in CALLS.items():
        _add_call(app, service, endpoint, model, caller, pack)
    return app


class _Unauthorized(Exception):
    pass


class _UnknownPack(Exception):
    pass


def _pack_info(pack: PolicySet, sources: bool) -> dict[str, Any]:
    versions = []
    for v in pack.versions:
        meta = v.model.pack
        item: dict[str, Any] = {
            "version": v.version,
            "effective_from": meta.effective.from_.isoformat(),
            "effective_to": meta.effective.to.isoformat() if meta.effective.to else None,
            "sha256": v.sha256,
        }
        if sources:
            item["name"] = plain(meta.name)
            item["sources"] = [plain(s) for s in meta.sources]
        versions.append(item)
    return {"id": pack.id, "versions": versions}


def _add_call(
    app: FastAPI,
    service: Service,
    endpoint: str,
    model: type[Call],
    caller: Callable[..., str | None],
    pack: Callable[[str], PolicySet],
) -> None:
    schema = model.model_json_schema()
    responses: dict[int | str, dict[str, Any]] = dict(_ERRORS)
    if endpoint == "evaluate":
        responses[200] = {
            "description": "the results (with Accept: application/x-ndjson, exactly the "
            "CLI's JSON Lines)",
            "content": {NDJSON: {"schema": {"type": "string"}}},
        }

    async def call(pack_id: str, request: Request, who: str | None = Depends(caller)) -> Response:
        packs = pack(pack_id)
        raw = await request.body()
        timeout = service.config.timeout
        done: tuple[dict[str, Any], Answer] | YibaoError | DeadlineExceeded | None = None
        with anyio.move_on_after(timeout):
            done = await anyio.to_thread.run_sync(
                _answer, endpoint, packs, model, raw, timeout, abandon_on_cancel=True
            )
        if done is None or isinstance(done, DeadlineExceeded):
            return _timeout(timeout)
        if isinstance(done, YibaoError):
            return problems_response(done.problems)
        body, outcome = done
        with anyio.CancelScope(shield=True):  # a decision answered is a decision logged
            line = await anyio.to_thread.run_sync(_log, service, endpoint, who, body, outcome)
        return _respond(endpoint, outcome, line, request)

    call.__name__ = endpoint
    call.__doc__ = _DOCS[endpoint]
    app.post(
        f"/v1/packs/{{pack_id}}/{endpoint}",
        tags=["decisions"],
        responses=responses,
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}
        },
    )(call)


_DOCS = {
    "evaluate": "Evaluate subjects and their events as of a date: one result per subject, "
    "as the CLI's `evaluate` writes them.",
    "explain": "The readable explanation of the named subjects' results (`explain`).",
    "summary": "Counts by outcome, region, ruleset and measure (`summary --format json`).",
    "allocate": "Share the pool of withheld deposits by grade (`allocate`), in whole fen.",
}


def _timeout(seconds: float) -> JSONResponse:
    return error_response(
        503,
        "service.timeout",
        f"the call ran past the service's limit of {seconds:g} s and was stopped: send fewer "
        "records per call, or start the service with a larger --timeout",
        headers={"Retry-After": "1"},
    )


def _answer(
    endpoint: str, packs: PolicySet, model: type[Call], raw: bytes, timeout: float
) -> tuple[dict[str, Any], Answer] | YibaoError | DeadlineExceeded:
    """In a worker thread (parsing megabytes would stall every other call), under the
    deadline; errors are returned, not raised, so whatever happens reaches the caller."""
    try:
        with deadline(timeout):
            body, parsed = parse_body(raw, model)
            return body, answer(endpoint, packs, parsed)
    except YibaoError as exc:
        return exc
    except DeadlineExceeded as exc:
        return exc


def _log(
    service: Service, endpoint: str, who: str | None, body: dict[str, Any], outcome: Answer
) -> dict[str, Any]:
    """Write the decision's line. ``body``: the call as parsed (JSON values only), so its
    canonical text is computed once, for its hash and for the line."""
    text = canonical_json(body)
    masked = 0
    logged = text
    if service.config.personal:
        hidden, masked = mask(body, service.config.personal)
        if masked:
            logged = canonical_json(hidden)
    policy = outcome.policy
    entry = {
        "decision_id": str(uuid.uuid4()),
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "caller": who,
        "endpoint": endpoint,
        "pack": {"id": policy.id, "version": policy.version, "sha256": policy.sha256},
        "engine_version": engine_version(),
        "as_of": body["as_of"],
        "input_sha256": sha256_text(text),
        "input": RawJson(logged),
        "masked": masked,
        "result_sha256": sha256_text(outcome.canonical),
        "outcomes": outcome.outcomes,
        "warnings": [str(w) for w in outcome.warnings],
    }
    return service.log.append(entry)


def _respond(endpoint: str, outcome: Answer, line: dict[str, Any], request: Request) -> Response:
    policy = outcome.policy
    headers = {
        "Yibao-Pack-Id": quote(policy.id),
        "Yibao-Pack-Version": quote(policy.version),  # 2023评价版: header values are Latin-1
        "Yibao-Pack-Sha256": policy.sha256,
        "Yibao-Decision-Id": line["decision_id"],
    }
    warnings = [error_item(w) for w in outcome.warnings]
    if endpoint == "evaluate" and NDJSON in request.headers.get("accept", ""):
        headers["Yibao-Warnings"] = _warnings_header(warnings)
        return Response(outcome.canonical, media_type=NDJSON, headers=headers)
    head = {
        "decision_id": line["decision_id"],
        "policy": {"id": policy.id, "version": policy.version, "sha256": policy.sha256},
        **outcome.payload,
    }
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    if endpoint == "evaluate":
        text += ',"results":[' + ",".join(outcome.canonical.splitlines()) + "]"
    text += ',"warnings":' + json.dumps(warnings, ensure_ascii=False, separators=(",", ":")) + "}"
    return Response(text, media_type="application/json", headers=headers)


WARNINGS_HEADER = 4096


def _warnings_header(warnings: list[dict[str, Any]]) -> str:
    """The warnings of an NDJSON answer (its body is the results alone), as JSON in ASCII;
    cut to fit a header, the last item then saying how many more the JSON answer holds."""
    for n in range(len(warnings), -1, -1):
        items = warnings[:n]
        if n < len(warnings):
            items = [
                *items,
                {"code": "service.more-warnings", "message": f"{len(warnings) - n} more"},
            ]
        text = json.dumps(items, ensure_ascii=True, separators=(",", ":"))
        if len(text) <= WARNINGS_HEADER:
            return text
    return "[]"


def wrap(app: FastAPI, config: ServiceConfig) -> ASGIApp:
    return Limits(app, config.max_body_bytes)


def from_environment() -> ASGIApp:
    """The app for a uvicorn worker process: ``serve`` puts its configuration in
    ``YIBAO_SERVICE_CONFIG``."""
    config = ServiceConfig.model_validate_json(os.environ[ENV])
    return wrap(create_app(config), config)
