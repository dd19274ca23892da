"""The console's own state on the app: the session secret and the page templates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, cast

from fastapi import Depends, FastAPI, Request
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent


@dataclass(frozen=True, slots=True)
class ConsoleState:
    secret: bytes
    templates: Jinja2Templates
    barcodes: dict[str, str]  # barcode -> SKU (connectors/console/barcodes.py)


def attach(app: FastAPI, state: ConsoleState) -> None:
    app.state.console = state


def console_state(request: Request) -> ConsoleState:
    return cast(ConsoleState, request.app.state.console)


def templates() -> Jinja2Templates:
    return Jinja2Templates(directory=HERE / "templates")


ConsoleDep = Annotated[ConsoleState, Depends(console_state)]
