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
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal

import orjson
import typer
from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from base.settings import Settings, get_settings
from base.topics import ensure_topics
from connectors.fact_intake import FactError, validate_item
from ledger.codec import encode

Format = Literal["jsonl", "csv"]
_FORMATS: dict[str, Format] = {"jsonl": "jsonl", "csv": "csv"}
HASH_CHUNK_BYTES = 1 << 20
RAW_CHARS_MAX = 4_096  # of a rejected line, kept in the rejects file
PRODUCER_BATCH_BYTES = 512 * 1024


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
    gateway = settings.gateway
    started_s = time.monotonic()
    file_sha256, lines_total = file_digest(path)
    saved = None if restart else load_checkpoint(path, file_sha256)
    state = saved or Checkpoint(file_sha256=file_sha256)
    resumed_after = state.lines_done
    rejects_path = rejects_path_for(path)
    rejects = rejects_path.open("r+b" if saved and rejects_path.exists() else "wb")
    rejects.truncate(state.rejects_bytes)
    rejects.seek(state.rejects_bytes)
    task = None if progress is None else progress.add_task(path.name, total=lines_total)
    if progress is not None and task is not None:
        progress.update(task, completed=resumed_after)

    await ensure_topics(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        max_batch_size=PRODUCER_BATCH_BYTES,
    )
    await producer.start()
    inflight: deque[tuple[asyncio.Future[Any], Checkpoint]] = deque()
    aborted = False

    async def settle(keep: int) -> None:
        while len(inflight) > keep:
            acks, mark = inflight.popleft()
            await acks
            rejects.flush()
            save_checkpoint(path, mark)
            if progress is not None and task is not None:
                progress.update(task, completed=mark.lines_done)

    try:
        ingested_at = datetime.now(UTC).isoformat()
        topic = settings.topics.events
        rows = csv_rows if (fmt or detect_format(path)) == "csv" else jsonl_rows
        batch: list[asyncio.Future[Any]] = []
        line_no = resumed_after
        with path.open("rb") as handle:
            for line_no, raw, parsed in rows(handle, resumed_after):
                outcome = to_fact(line_no, parsed, file_sha256, ingested_at)
                if isinstance(outcome, str):
                    state.rejected += 1
                    rejects.write(_reject_line(line_no, outcome, raw))
                    if state.rejected > gateway.import_rejects_max:
                        aborted = True
                        break
                    continue
                key, value = outcome
                batch.append(await producer.send(topic, value, key=key))
                state.accepted += 1
                if len(batch) >= gateway.import_batch_rows:
                    inflight.append(_close_batch(batch, state, line_no, rejects.tell()))
                    batch = []
                    await settle(gateway.import_inflight_batches_max)
            if not aborted:
                line_no = lines_total
            inflight.append(_close_batch(batch, state, line_no, rejects.tell()))
            await settle(0)
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
