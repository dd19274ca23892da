"""The HTTP gateway: `create_app(settings)` -> FastAPI. Stateless; run several side by side.

Ingest (`POST /v1/events`) and holds go to Kafka; availability reads come from Redis.
Every request but /healthz and /metrics carries a bearer API key (connectors.auth).
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from aiokafka.errors import KafkaError
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import TypeAdapter, ValidationError
from redis.exceptions import RedisError

from base.settings import Settings
from connectors import fact_intake as ingest
from connectors import metrics
from connectors.auth import KeyRecord, KeyStore, RateLimiter
from connectors.gateway.backends import Bus, KafkaBus, Reads, RedisReads
from connectors.gateway.models import (
    Availability,
    AvailabilityBatch,
    ChannelPolicyRequest,
    CommitRequest,
    ErrorReply,
    EventBatch,
    EventsAccepted,
    Health,
    HoldReply,
    HoldRequest,
    ItemError,
    LocationAvailability,
    Locations,
    ReleaseRequest,
    derived_request_id,
)
from connectors.gateway.replies import TooManyWaiters
from ledger import limits
from ledger.codec import encode
from ledger.commands import Commit, Decision, HoldCommand, Release, Reserve
from ledger.fields import Sku
from ledger.policy import ChannelPolicy

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]
ID_PATH = {"min_length": 1, "max_length": limits.ID_CHARS_MAX, "pattern": limits.ID_PATTERN}
TOKEN_PATH = {"min_length": 1, "max_length": limits.ID_CHARS_MAX, "pattern": limits.TOKEN_PATTERN}
ChannelPath = Annotated[str, Path(**ID_PATH)]
SkuPath = Annotated[str, Path(**ID_PATH)]
HoldIdPath = Annotated[str, Path(**TOKEN_PATH)]
_SKU: TypeAdapter[str] = TypeAdapter(Sku)
_POLICY: TypeAdapter[ChannelPolicy] = TypeAdapter(ChannelPolicy)
_ERRORS_SHOWN_MAX = 1_000

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorReply} for code in (400, 401, 403, 404, 409, 413, 422, 429, 431, 503, 504)
}
HOLD_RESPONSES: dict[int | str, dict[str, Any]] = ERROR_RESPONSES | {
    409: {"model": HoldReply},
    404: {"model": HoldReply},
}


class BackendUnavailable(Exception):
    """Kafka or Redis did not answer in time."""


def _refuse(status: int, detail: str, errors: list[ItemError] | None = None) -> JSONResponse:
    body = ErrorReply(detail=detail, errors=errors or [])
    return JSONResponse(body.model_dump(), status_code=status)


def create_app(
    settings: Settings,
    *,
    bus: Bus | None = None,
    reads: Reads | None = None,
    keys: KeyStore | None = None,
) -> FastAPI:
    gateway = settings.gateway
    the_bus: Bus = bus if bus is not None else KafkaBus(settings)
    the_reads: Reads = reads if reads is not None else RedisReads(settings)
    key_store = keys if keys is not None else KeyStore(gateway.keys_file, gateway.keys_reload_s)
    limiter = RateLimiter(gateway.requests_per_s_per_key_max, gateway.requests_burst_per_key_max)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await the_bus.start()
        try:
            await the_reads.start()
            try:
                yield
            finally:
                await the_reads.stop()
        finally:
            await the_bus.stop()

    app = FastAPI(
        title="Tally gateway",
        version="1.0.0",
        summary="Ingest stock movements, read availability, place holds (wire contract v1).",
        lifespan=lifespan,
    )
    bearer = HTTPBearer(auto_error=False, description="An API key: `tly_...`")

    async def principal(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> KeyRecord:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(401, "missing bearer API key", {"WWW-Authenticate": "Bearer"})
        record = key_store.lookup(credentials.credentials)
        if record is None:
            raise HTTPException(401, "unknown API key", {"WWW-Authenticate": "Bearer"})
        wait_s = limiter.take(record.key_id)
        if wait_s > 0:
            retry = str(max(1, int(wait_s + 0.999)))
            raise HTTPException(429, "rate limit exceeded for this key", {"Retry-After": retry})
        return record

    Principal = Annotated[KeyRecord, Depends(principal)]

    def require_channel(who: KeyRecord, channel: str) -> None:
        if not who.may_use_channel(channel):
            raise HTTPException(403, f"this key may not use channel {channel!r}")

    def require_any_channel(who: KeyRecord) -> None:
        if not (who.is_admin or who.channel is not None):
            raise HTTPException(403, "a channel or admin key is required")

    # --- ingest ---------------------------------------------------------------------------

    @app.post(
        "/v1/events",
        status_code=202,
        response_model=EventsAccepted,
        responses=ERROR_RESPONSES,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/EventBatch"}}
                },
            }
        },
        summary="Post a batch of facts (all-or-nothing); 202 once Kafka acknowledged all",
    )
    async def post_events(request: Request, who: Principal) -> EventsAccepted | JSONResponse:
        if not (who.is_admin or who.role == "scanner"):
            raise HTTPException(403, "a scanner or admin key is required")
        body = await request.body()  # size already bounded by the body-limit middleware
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            return _refuse(400, f"malformed JSON: {error}")
        items = document.get("events") if isinstance(document, dict) else None
        if not isinstance(items, list) or set(document) != {"events"}:
            return _refuse(422, 'body must be {"events": [fact, ...]}')
        if not items:
            return _refuse(422, "events: at least one fact is required")
        if len(items) > gateway.batch_events_max:
            return _refuse(413, f"events: {len(items)} facts, over {gateway.batch_events_max}")
        now = datetime.now(UTC)
        facts, errors = ingest.validate_batch(items, now)
        if errors:
            shown = [ItemError(index=e.index, field=e.field, reason=e.reason) for e in errors]
            return _refuse(
                422,
                f"{len(errors)} invalid item(s); nothing was accepted",
                shown[:_ERRORS_SHOWN_MAX],
            )
        outside = [
            ItemError(index=i, field="location", reason=f"not a location of key {who.key_id}")
            for i, fact in enumerate(facts)
            if not who.may_post_at(fact.location)
        ]
        if outside:
            return _refuse(
                403, "facts at locations this key may not post for", outside[:_ERRORS_SHOWN_MAX]
            )
        records = [(fact.sku.encode(), encode(fact)) for fact in facts]
        await _produce(the_bus, settings.topics.events, records)
        metrics.GATEWAY_EVENTS_ACCEPTED.inc(len(facts))
        return EventsAccepted(accepted=len(facts), ingested_at=now)

    # --- holds ----------------------------------------------------------------------------

    @app.post(
        "/v1/holds",
        status_code=201,
        response_model=HoldReply,
        responses=ERROR_RESPONSES | {409: {"model": HoldReply}},
        summary="Place a hold; 201 held, 409 rejected (with `available`)",
    )
    async def place_hold(body: HoldRequest, who: Principal) -> HoldReply | JSONResponse:
        require_channel(who, body.channel)
        command = Reserve(
            request_id=body.request_id or derived_request_id("reserve", body.hold_id),
            hold_id=body.hold_id,
            sku=body.sku,
            channel=body.channel,
            qty=body.qty,
            ttl_s=body.ttl_s,
            location=body.location,
            issued_at=datetime.now(UTC),
        )
        return _reply(await _ask(the_bus, command))

    def resolution(
        command: Literal["commit", "release"],
        hold_id: str,
        body: CommitRequest | ReleaseRequest,
        who: KeyRecord,
    ) -> dict[str, Any]:
        """The fields a commit and a release share; the key's channel must own the hold."""
        require_any_channel(who)
        return {
            "request_id": body.request_id or derived_request_id(command, hold_id, who.channel),
            "hold_id": hold_id,
            "sku": body.sku,
            "channel": who.channel,
            "issued_at": datetime.now(UTC),
        }

    @app.post(
        "/v1/holds/{hold_id}/commit",
        status_code=201,
        response_model=HoldReply,
        responses=HOLD_RESPONSES,
        summary="Commit a pending hold to an order",
    )
    async def commit_hold(
        hold_id: HoldIdPath, body: CommitRequest, who: Principal
    ) -> HoldReply | JSONResponse:
        command = Commit(order_id=body.order_id, **resolution("commit", hold_id, body, who))
        return _reply(await _ask(the_bus, command))

    @app.post(
        "/v1/holds/{hold_id}/release",
        status_code=201,
        response_model=HoldReply,
        responses=HOLD_RESPONSES,
        summary="Release a pending hold",
    )
    async def release_hold(
        hold_id: HoldIdPath, body: ReleaseRequest, who: Principal
    ) -> HoldReply | JSONResponse:
        command = Release(**resolution("release", hold_id, body, who))
        return _reply(await _ask(the_bus, command))

    # --- reads ----------------------------------------------------------------------------

    @app.get(
        "/v1/availability/{channel}",
        response_model=AvailabilityBatch,
        responses=ERROR_RESPONSES,
        summary="Available-to-sell of several SKUs in one channel",
    )
    async def availability_batch(
        channel: ChannelPath,
        who: Principal,
        sku: Annotated[list[str], Query(description="repeat: ?sku=A&sku=B")],
    ) -> AvailabilityBatch | JSONResponse:
        require_channel(who, channel)
        if len(sku) > gateway.availability_skus_max:
            return _refuse(413, f"sku: {len(sku)} given, over {gateway.availability_skus_max}")
        bad = [ItemError(index=i, field="sku", reason=r) for i, r in _invalid_skus(sku)]
        if bad:
            return _refuse(422, "invalid sku", bad)
        figures = await the_reads.ats(channel, sku)
        items = [
            Availability(
                channel=channel, sku=s, available=max(0, f.available or 0), version=f.version
            )
            for s, f in zip(sku, figures, strict=True)
        ]
        return AvailabilityBatch(channel=channel, items=items)

    @app.get(
        "/v1/availability/{channel}/{sku}",
        response_model=Availability,
        responses=ERROR_RESPONSES,
        summary="Available-to-sell of one SKU in one channel (0 if never published)",
    )
    async def availability(channel: ChannelPath, sku: SkuPath, who: Principal) -> Availability:
        require_channel(who, channel)
        (figure,) = await the_reads.ats(channel, [sku])
        return Availability(
            channel=channel,
            sku=sku,
            available=max(0, figure.available or 0),
            version=figure.version,
        )

    @app.get(
        "/v1/locations/{sku}",
        response_model=Locations,
        responses=ERROR_RESPONSES,
        summary="Available units of one SKU at every location that has a figure for it",
    )
    async def locations(sku: SkuPath, who: Principal) -> Locations:
        require_any_channel(who)
        found, truncated = await the_reads.locations(sku)
        return Locations(
            sku=sku,
            locations=[
                LocationAvailability(location=loc, available=max(0, units))
                for loc, units in sorted(found.items())
            ],
            truncated=truncated,
        )

    # --- policy ---------------------------------------------------------------------------

    @app.put(
        "/v1/policy/channels/{channel}",
        status_code=202,
        response_model=ChannelPolicy,
        responses=ERROR_RESPONSES,
        summary="Set a channel's policy (admin); 202 once Kafka acknowledged the record",
    )
    async def put_channel_policy(
        channel: ChannelPath, body: ChannelPolicyRequest, who: Principal
    ) -> ChannelPolicy | JSONResponse:
        if not who.is_admin:
            raise HTTPException(403, "an admin key is required")
        now = datetime.now(UTC)
        fields = body.model_dump(mode="json")
        fields["version"] = body.version if body.version is not None else time.time_ns() // 1000
        record_json = {
            **fields,
            "kind": "channel",
            "channel": channel,
            "updated_at": now.isoformat(),
        }
        try:
            record = _POLICY.validate_json(orjson.dumps(record_json))
        except ValidationError as error:
            errors = [
                ItemError(
                    field=".".join(str(p) for p in e["loc"]) or "body",
                    reason=e["msg"].removeprefix("Value error, "),
                )
                for e in error.errors(include_url=False, include_input=False)
            ]
            return _refuse(422, "invalid channel policy", errors)
        key = f"channel:{channel}".encode()
        await _produce(the_bus, settings.topics.policy, [(key, encode(record))])
        return record

    # --- operations -----------------------------------------------------------------------

    @app.get(
        "/healthz",
        response_model=Health,
        responses={503: {"model": Health}},
        summary="Kafka and Redis reachable (no key needed)",
    )
    async def healthz() -> Health | JSONResponse:
        kafka, redis_state = await asyncio.gather(_probe(the_bus.ping), _probe(the_reads.ping))
        health = Health(kafka=kafka, redis=redis_state)
        if kafka != "ok" or redis_state != "ok":
            return JSONResponse(health.model_dump(), status_code=503)
        return health

    @app.get("/metrics", summary="Prometheus exposition (no key needed)", response_class=Response)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    # --- errors ---------------------------------------------------------------------------

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            ItemError(
                field=".".join(str(p) for p in e["loc"]),
                reason=str(e["msg"]).removeprefix("Value error, "),
            )
            for e in error.errors()[:_ERRORS_SHOWN_MAX]
        ]
        return _refuse(422, "invalid request", errors)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        response = _refuse(error.status_code, str(error.detail))
        response.headers.update(error.headers or {})
        return response

    @app.exception_handler(BackendUnavailable)
    async def backend_unavailable(request: Request, error: BackendUnavailable) -> JSONResponse:
        return _refuse(503, str(error))

    @app.exception_handler(RedisError)
    async def redis_unavailable(request: Request, error: RedisError) -> JSONResponse:
        return _refuse(503, "redis unavailable")

    @app.exception_handler(TooManyWaiters)
    async def too_many_waiters(request: Request, error: TooManyWaiters) -> JSONResponse:
        return _refuse(503, "too many hold requests waiting; retry", None)

    _document_event_batch(app)
    app.add_middleware(
        BodyLimit, bytes_max=gateway.payload_bytes_max, header_bytes_max=gateway.header_bytes_max
    )
    app.add_middleware(RequestMetrics)
    return app


# --- helpers ------------------------------------------------------------------------------


def _invalid_skus(skus: list[str]) -> list[tuple[int, str]]:
    bad = []
    for index, value in enumerate(skus):
        try:
            _SKU.validate_python(value)
        except ValidationError as error:
            bad.append((index, error.errors(include_url=False)[0]["msg"]))
    return bad


async def _produce(bus: Bus, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    try:
        await bus.produce(topic, records)
    except (KafkaError, TimeoutError, OSError) as error:
        raise BackendUnavailable(f"kafka unavailable: {type(error).__name__}") from error


async def _ask(bus: Bus, command: HoldCommand) -> Decision:
    try:
        return await bus.ask(command)
    except TimeoutError as error:
        raise HTTPException(
            504, "no decision in time; retry with the same request_id for the same answer"
        ) from error
    except (KafkaError, OSError) as error:
        raise BackendUnavailable(f"kafka unavailable: {type(error).__name__}") from error


def _reply(decision: Decision) -> HoldReply | JSONResponse:
    reply = HoldReply.of(decision)
    if decision.outcome == "accepted":
        return reply
    # Another channel's hold is reported like an unknown one: its existence is not revealed.
    status = 404 if decision.reason in ("hold_not_found", "channel_mismatch") else 409
    return JSONResponse(reply.model_dump(mode="json"), status_code=status)


async def _probe(ping: Callable[[], Awaitable[None]]) -> str:
    try:
        await ping()
    except Exception as error:  # any failure means unreachable; the name says which
        return f"unreachable: {type(error).__name__}"
    return "ok"


def _document_event_batch(app: FastAPI) -> None:
    """Put EventBatch (and the fact models) into the spec: the route reads its body itself."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        defs = TypeAdapter(EventBatch).json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(defs.pop("$defs", {}))
        components["EventBatch"] = defs
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


class BodyLimit:
    """Refuse header sections over `header_bytes_max` (431) and bodies over `bytes_max` (413:
    by Content-Length, and while streaming)."""

    def __init__(self, app: ASGIApp, bytes_max: int, header_bytes_max: int) -> None:
        self.app = app
        self.bytes_max = bytes_max
        self.header_bytes_max = header_bytes_max

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header_bytes = sum(len(name) + len(value) for name, value in scope["headers"])
        if header_bytes > self.header_bytes_max:
            reply = _refuse(431, f"request headers over {self.header_bytes_max} bytes")
            await reply(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.bytes_max):
            await _too_large(self.bytes_max)(scope, receive, send)
            return
        seen = 0
        refused = False
        started = False

        async def limited_receive() -> Any:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.bytes_max and not refused:
                    refused = True
                    if not started:
                        await _too_large(self.bytes_max)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Any) -> None:
            nonlocal started
            if refused:
                return  # the 413 has been sent; drop the app's own answer
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # The app saw the cut-off body as a client disconnect; the 413 is already sent.


def _too_large(bytes_max: int) -> JSONResponse:
    return _refuse(413, f"body over {bytes_max} bytes")


class RequestMetrics:
    """tally_gateway_requests_total{route,status} and request latency by route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_s = time.perf_counter()
        status = 500

        async def recording_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.GATEWAY_REQUESTS.labels(route, str(status)).inc()
            metrics.GATEWAY_REQUEST_LATENCY.labels(route).observe(time.perf_counter() - started_s)
