"""Errors of seat operations, each mapping to one HTTP status (api/seats.py)."""

from __future__ import annotations


class SeatError(Exception):
    status = 400


class UnknownSeat(SeatError):
    status = 404


class BadRequest(SeatError):
    status = 422


class Conflict(SeatError):
    """The seat is not in a state where this makes sense (pause while logged out)."""

    status = 409


class PbxUnavailable(SeatError):
    """No answer from the PBX (not connected, timeout, connection lost): try again."""

    status = 503


class PbxRefused(SeatError):
    """Asterisk answered with an error: retrying will not help without a fix."""

    status = 502
