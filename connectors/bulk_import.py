"""`tally import FILE`: load a JSONL or CSV file of facts straight into `tally.events`.

Each line is validated with the ledger's models (the same edge checks as `POST /v1/events`,
`ingested_at` stamped once per run), produced keyed by SKU with an idempotent acks=all
producer in batches of `import_batch_rows`, at most `import_inflight_batches_max` batches in
flight. Bad lines go to a rejects file (JSON lines: line number, reason, raw text).

Resumable, never double counting:
- Every fact has an `event_id`. A line without one (typically CSV) gets
  `imp-{first 16 hex of the file's SHA-256}-{line number}`: the same file always gives the
  same ids, so the ledger's per-SKU idempotency drops a re-sent fact.
- A checkpoint `{FILE}.tally-import.json` records the file's SHA-256 and the last line
  whose batch Kafka acknowledged (batches are acknowledged in order). A re-run of the same
  file resumes after it; a finished file sends nothing. `--restart` ignores the checkpoint
  (the event ids still make the re-sent facts no-ops within the ledger's idempotency window,
  `ledger.limits.SEEN_IDS_PER_SKU_MAX` facts per SKU).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import io
import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal

import orjson
import typer
from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from base.kafka_client import start_or_close
from base.settings import Settings, get_settings
from base.topics import ensure_topics
from connectors.fact_intake import FactError, validate_item
from connectors.fact_producer import fact_producer
from ledger.codec import encode

Format = Literal["jsonl", "csv"]
_FORMATS: dict[str, Format] = {"jsonl": "jsonl", "csv": "csv"}
HASH_CHUNK_BYTES = 1 << 20
RAW_CHARS_MAX = 4_096  # of a rejected line, kept in the rejects file


@dataclass
class Checkpoint:
    file_sha256: str
    lines_done: int = 0  # every line up to here is acknowledged or rejected
    rejects_bytes: int = 0  # the rejects file's length at that line
    accepted: int = 0
    rejected: int = 0


@dataclass
class Summary:
    path: Path
    lines_total: int
    accepted: int
    rejected: int
    resumed_after_line: int
    seconds: float
    rejects_path: Path
    aborted: bool = False

    @property
    def rows_per_s(self) -> float:
        done = self.lines_total - self.resumed_after_line
        return done / self.seconds if self.seconds > 0 else 0.0


def detect_format(path: Path) -> Format:
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


def file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 of the file and its line count (one pass)."""
    digest = hashlib.sha256()
    lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return digest.hexdigest(), lines + (0 if last == b"\n" else 1)


def derived_event_id(file_sha256: str, line: int) -> str:
    return f"imp-{file_sha256[:16]}-{line}"


def checkpoint_path(path: Path) -> Path:
    return path.with_name(path.name + ".tally-import.json")


def rejects_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.jsonl")


def load_checkpoint(path: Path, file_sha256: str) -> Checkpoint | None:
    try:
        saved = Checkpoint(**json.loads(checkpoint_path(path).read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None
    return saved if saved.file_sha256 == file_sha256 else None


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    target = checkpoint_path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(asdict(checkpoint)))
    tmp.replace(target)


def jsonl_rows(handle: BinaryIO, skip_lines: int) -> Iterator[tuple[int, bytes, Any]]:
    """(line number, raw line, parsed object or None when not JSON) for non-blank lines."""
    for line_no, raw in enumerate(handle, start=1):
        if line_no <= skip_lines or not raw.strip():
            continue
        try:
            yield line_no, raw, orjson.loads(raw)
        except orjson.JSONDecodeError:
            yield line_no, raw, None


def csv_rows(handle: BinaryIO, skip_lines: int) -> Iterator[tuple[int, bytes, Any]]:
    """CSV with a header row; empty cells are absent fields; `qty` is an integer."""
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
    try:
        yield from _csv_records(csv.reader(text), skip_lines)
    finally:
        text.detach()  # the caller owns (and closes) `handle`


def _csv_records(reader: Any, skip_lines: int) -> Iterator[tuple[int, bytes, Any]]:
    header = next(reader, None)
    if header is None:
        return
    names = [name.strip() for name in header]
    for cells in reader:
        line_no: int = reader.line_num
        if line_no <= skip_lines or not any(cell.strip() for cell in cells):
            continue
        raw = ",".join(cells).encode()
        if len(cells) != len(names):
            yield line_no, raw, {"__cells__": f"{len(cells)} cells, header has {len(names)}"}
            continue
        row: dict[str, Any] = {n: c for n, c in zip(names, cells, strict=True) if c != ""}
        if "qty" in row:
            with contextlib.suppress(ValueError):  # else left a string: validation names it
                row["qty"] = int(row["qty"])
        yield line_no, raw, row


def to_fact(
    line_no: int, parsed: Any, file_sha256: str, ingested_at: str
) -> tuple[bytes, bytes] | str:
    """(key, value) to produce, or the reason the line is rejected."""
    if parsed is None:
        return "malformed JSON"
    if isinstance(parsed, dict) and "__cells__" in parsed:
        return str(parsed["__cells__"])
    if isinstance(parsed, dict) and "event_id" not in parsed:
        parsed = {**parsed, "event_id": derived_event_id(file_sha256, line_no)}
    result = validate_item(line_no, parsed, ingested_at)
    if isinstance(result, list):
        return _reasons(result)
    return result.sku.encode(), encode(result)


def _reasons(errors: list[FactError]) -> str:
    return "; ".join(f"{e.field}: {e.reason}" if e.field else e.reason for e in errors)


async def run_import(
    settings: Settings,
    path: Path,
    *,
    fmt: Format | None = None,
    restart: bool = False,
    progress: Progress | None = None,
) -> Summary:
    started_s = time.monotonic()
    file_sha256, lines_total = file_digest(path)
    saved = None if restart else load_checkpoint(path, file_sha256)
    state = saved or Checkpoint(file_sha256=file_sha256)
    resumed_after = state.lines_done
    rejects_path = rejects_path_for(path)
    rejects = _open_rejects(rejects_path, resume=saved is not None, length=state.rejects_bytes)
    show = _progress_shown(progress, path.name, lines_total, resumed_after)
    await ensure_topics(settings)
    producer = await _started_producer(settings)
    run = _Run(settings, path, state, rejects, producer, show)
    try:
        rows = csv_rows if (fmt or detect_format(path)) == "csv" else jsonl_rows
        aborted = await _send_lines(run, rows, resumed_after, lines_total)
    finally:
        await producer.stop()
        rejects.close()
    return Summary(
        path=path,
        lines_total=lines_total,
        accepted=state.accepted,
        rejected=state.rejected,
        resumed_after_line=resumed_after,
        seconds=time.monotonic() - started_s,
        rejects_path=rejects_path,
        aborted=aborted,
    )


RowReader = Callable[[BinaryIO, int], Iterator[tuple[int, bytes, Any]]]


@dataclass
class _Run:
    """One import in progress: its producer, the rejects file, and the batches in flight,
    checkpointed in order as Kafka acknowledges them."""

    settings: Settings
    path: Path
    state: Checkpoint
    rejects: BinaryIO
    producer: AIOKafkaProducer
    show: Callable[[int], None]
    inflight: deque[tuple[asyncio.Future[Any], Checkpoint]] = field(default_factory=deque)
    ingested_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def reject(self, line_no: int, reason: str, raw: bytes) -> bool:
        """Record a rejected line; True once there are too many to go on."""
        self.state.rejected += 1
        self.rejects.write(_reject_line(line_no, reason, raw))
        return self.state.rejected > self.settings.gateway.import_rejects_max

    async def close_batch(self, batch: list[asyncio.Future[Any]], line_no: int, keep: int) -> None:
        """Put `batch` (done up to `line_no`) in flight; wait until at most `keep` are."""
        self.inflight.append(_close_batch(batch, self.state, line_no, self.rejects.tell()))
        while len(self.inflight) > keep:
            acks, mark = self.inflight.popleft()
            await acks
            self.rejects.flush()
            save_checkpoint(self.path, mark)
            self.show(mark.lines_done)


async def _send_lines(run: _Run, rows: RowReader, resumed_after: int, lines_total: int) -> bool:
    """Produce every valid line after `resumed_after`; True if aborted on too many rejects."""
    gateway = run.settings.gateway
    topic = run.settings.topics.events
    batch: list[asyncio.Future[Any]] = []
    line_no = resumed_after
    aborted = False
    with run.path.open("rb") as handle:
        for line_no, raw, parsed in rows(handle, resumed_after):
            outcome = to_fact(line_no, parsed, run.state.file_sha256, run.ingested_at)
            if isinstance(outcome, str):
                aborted = run.reject(line_no, outcome, raw)
                if aborted:
                    break
                continue
            key, value = outcome
            batch.append(await run.producer.send(topic, value, key=key))
            run.state.accepted += 1
            if len(batch) >= gateway.import_batch_rows:
                await run.close_batch(batch, line_no, keep=gateway.import_inflight_batches_max)
                batch = []
        await run.close_batch(batch, line_no if aborted else lines_total, keep=0)
    return aborted


def _open_rejects(rejects_path: Path, *, resume: bool, length: int) -> BinaryIO:
    """The rejects file, cut back to `length` (its size at the checkpoint) when resuming."""
    rejects = rejects_path.open("r+b" if resume and rejects_path.exists() else "wb")
    rejects.truncate(length)
    rejects.seek(length)
    return rejects


def _progress_shown(
    progress: Progress | None, name: str, lines_total: int, lines_done: int
) -> Callable[[int], None]:
    """A function that shows lines done on the progress bar (if there is one)."""
    if progress is None:
        return lambda _lines_done: None
    task = progress.add_task(name, total=lines_total)
    progress.update(task, completed=lines_done)
    return lambda done: progress.update(task, completed=done)


async def _started_producer(settings: Settings) -> AIOKafkaProducer:
    producer = fact_producer(settings)
    await start_or_close(producer)
    return producer


def _close_batch(
    batch: list[asyncio.Future[Any]], state: Checkpoint, line_no: int, rejects_bytes: int
) -> tuple[asyncio.Future[Any], Checkpoint]:
    mark = Checkpoint(
        file_sha256=state.file_sha256,
        lines_done=line_no,
        rejects_bytes=rejects_bytes,
        accepted=state.accepted,
        rejected=state.rejected,
    )
    return asyncio.ensure_future(asyncio.gather(*batch)), mark


def _reject_line(line_no: int, reason: str, raw: bytes) -> bytes:
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")[:RAW_CHARS_MAX]
    return orjson.dumps({"line": line_no, "reason": reason, "raw": text}) + b"\n"


# --- the command --------------------------------------------------------------------------


def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL or CSV")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="jsonl | csv (default: by extension)")
    ] = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="Ignore the checkpoint; start at line 1.")
    ] = False,
) -> None:
    """Import facts from FILE into tally.events (validated, batched, resumable)."""
    if fmt not in (None, "jsonl", "csv"):
        typer.echo("error: --format must be jsonl or csv", err=True)
        raise typer.Exit(2)
    console = Console(stderr=True)
    columns = (*Progress.get_default_columns()[:2], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), console=console) as progress:
        summary = asyncio.run(
            run_import(
                get_settings(),
                file,
                fmt=_FORMATS.get(fmt or ""),
                restart=restart,
                progress=progress,
            )
        )
    resumed = (
        f" (resumed after line {summary.resumed_after_line})" if summary.resumed_after_line else ""
    )
    typer.echo(
        f"{summary.path}: {summary.accepted} accepted, {summary.rejected} rejected "
        f"of {summary.lines_total} lines{resumed} in {summary.seconds:.1f}s "
        f"({summary.rows_per_s:,.0f} rows/s)"
    )
    if summary.rejected:
        typer.echo(f"rejects: {summary.rejects_path}")
    if summary.aborted:
        typer.echo("aborted: too many rejected lines (settings.gateway.import_rejects_max)")
        raise typer.Exit(1)
