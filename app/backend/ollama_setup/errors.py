"""What can go wrong while setting up Ollama: one typed error per cause, each one true sentence.

Every error is a `PhiDeskError`, so the GUI shows it as it is and the command line prints it as
`phidesk: error: …`. The base class `SetupError` lets a caller catch all of them.
"""

from __future__ import annotations

from app.errors import PhiDeskError


class SetupError(PhiDeskError):
    """Setting up, updating or removing PhiDesk's own copy of Ollama failed."""


class NoNetwork(SetupError):
    """The releases API or the download host could not be reached at all."""


class ProxyFailed(SetupError):
    """A proxy from the environment refused or could not be reached."""


class RateLimited(SetupError):
    """GitHub answered 403 with no requests left for this network."""


class ReleaseUnreadable(SetupError):
    """The releases API answered, but not with a release PhiDesk can read."""


class DownloadFailed(SetupError):
    """The download host answered with an error, or the connection broke off."""


class UnknownArchitecture(SetupError):
    """Ollama publishes no build for this operating system or processor."""


class ChecksumMissing(SetupError):
    """The release publishes no SHA-256 for the archive PhiDesk would install."""


class ChecksumMismatch(SetupError):
    """The downloaded archive is not the one the release describes."""


class NotEnoughSpace(SetupError):
    """The check before downloading found too little free space."""


class DiskFull(SetupError):
    """The disk filled up while downloading or unpacking."""


class UnsafeArchive(SetupError):
    """The archive holds a path that leads outside its folder, or an entry PhiDesk never writes."""


class ArchiveTooLarge(SetupError):
    """The archive unpacks to more files or bytes than any Ollama release holds."""


class Cancelled(SetupError):
    """The user cancelled the download; the part already downloaded is kept for a resume."""


class InstallBusy(SetupError):
    """Another PhiDesk process is installing or updating Ollama right now."""


class NotInstalled(SetupError):
    """PhiDesk has no copy of Ollama of its own."""


class DidNotAnswer(SetupError):
    """The freshly unpacked Ollama did not start and answer, so it was not switched to."""


class InUse(SetupError):
    """The managed Ollama is busy (a pull, a streaming answer, another program), so it stays."""
