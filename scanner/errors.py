"""Typed device errors shared by every reader backend (see HARDWARE.md).

Every protocol failure maps onto one of these. Each carries the device it came from and the
sequence numbers of sheets the operator must re-feed, so that a message can say exactly what to do.
"""

from __future__ import annotations


class DeviceError(Exception):
    """Base class: a reader could not deliver the next sheet."""

    #: what the operator should do, in a sentence
    advice: str = "Check the device and try again."

    def __init__(
        self,
        message: str,
        *,
        device: str = "",
        refeed: list[int] | None = None,
        status: str | int | None = None,
        advice: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.device = device
        self.refeed: list[int] = list(refeed or [])
        self.status = status
        if advice is not None:  # this occurrence needs other words than the class's default
            self.advice = advice

    def __str__(self) -> str:
        where = f"{self.device}: " if self.device else ""
        refeed = ""
        if self.refeed:
            refeed = " Re-feed sheet(s) " + ", ".join(str(n) for n in self.refeed) + "."
        return f"{where}{self.message}. {self.advice}{refeed}"


class NoDocuments(DeviceError):
    """Normal end of a stack: the feeder is empty."""

    advice = "Load the next stack to continue."


class Jammed(DeviceError):
    advice = "Open the feeder, clear the jammed sheet and re-feed it."


class DoubleFeed(DeviceError):
    advice = "Two sheets went through together; re-feed them one at a time."


class CoverOpen(DeviceError):
    advice = "Close the cover or feeder door."


class Busy(DeviceError):
    """Transient: the device asks the caller to retry."""

    advice = "The device is busy; retrying."


class DeviceIO(DeviceError):
    advice = "Check the cable or network connection and the device's power."


class TimingMarkError(DeviceError):
    advice = "The reader could not find the timing track; check the card's edge and orientation."

