"""Errors as API clients expect them: LoopBack's JSON shape, a precise message, never a trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException

from pancommons.query.filter import FilterError

log = logging.getLogger("pancommons.api")


class ErrorDetail(BaseModel):
    statusCode: int
    name: str
    message: str
    where: str | None = None


class ErrorBody(BaseModel):
    """LoopBack's error shape, which PaNOSC clients parse."""

    error: ErrorDetail


def documented(*statuses: int) -> dict:
    """OpenAPI ``responses`` for the errors a route answers, in the shape it answers them."""
    reasons = {400: "a filter, argument or unit that is not valid (the message names it)",
               401: "a bearer token that is not valid here (unknown, expired, revoked, or not ours)",
               404: "no such record, or not open to the caller"}
    return {status: {"model": ErrorBody, "description": reasons[status]} for status in statuses}


def error_body(status: int, name: str, message: str, **extra) -> dict:
    return {"error": {"statusCode": status, "name": name, "message": message, **extra}}


async def http_error(request: Request, error: HTTPException):
    names = {404: "NotFoundError", 405: "MethodNotAllowedError"}
    return JSONResponse(
        error_body(error.status_code, names.get(error.status_code, "Error"), str(error.detail)),
        status_code=error.status_code,
        headers=getattr(error, "headers", None),
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(FilterError)
    async def _filter(request: Request, error: FilterError):
        return JSONResponse(error_body(400, "BadRequestError", str(error), where=error.where), status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError):
        first = error.errors()[0] if error.errors() else {}
        place = ".".join(str(part) for part in first.get("loc", ()))
        message = f"{place}: {first.get('msg', 'invalid request')}"
        return JSONResponse(error_body(400, "BadRequestError", message, where=place), status_code=400)

    app.add_exception_handler(HTTPException, http_error)

    @app.exception_handler(DataError)
    async def _refused_value(request: Request, error: DataError):
        # A value the database will not take (a NUL in a pid, a pattern its engine rejects): the request's fault.
        reason = str(error.orig).splitlines()[0] if error.orig else "invalid value"
        return JSONResponse(error_body(400, "BadRequestError", f"the catalogue refused a value: {reason}"), status_code=400)

    @app.exception_handler(OperationalError)
    async def _database(request: Request, error: OperationalError):
        log.warning("database refused %s: %s", request.url.path, str(error.orig).splitlines()[0] if error.orig else error)
        return JSONResponse(error_body(503, "ServiceUnavailableError", "the catalogue database is busy or unreachable; try again"), status_code=503)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse(error_body(500, "InternalServerError", "internal error; it has been logged"), status_code=500)
