"""The one exception tree of nap-compose.

Every error's ``str()`` is the sentence the user reads: it names the file, service, host or address
involved. Each class carries the process exit status the CLI uses for it. Adapters translate SDK errors
into these classes at their edge (``raise HostError(...) from e``) so the core never matches SDK types.
"""

import enum


class ExitStatus(enum.IntEnum):
    """Every exit status of the ``nap-compose`` process; each error class carries its member."""

    OK = 0
    ERROR = 1  # a failure without a more precise class; also `hosts check` finding drift, as diff(1)
    USAGE = 2
    CONFIG = 3
    STORE = 4
    IPAM = 5
    PLACEMENT = 6
    HOST = 7
    PARTIAL = 8
    LAB = 9
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT
    BROKEN_PIPE = 141  # the reader went away, as shells report SIGPIPE


class NapComposeError(Exception):
    """Root of every error nap-compose raises on purpose."""

    exit_status = ExitStatus.ERROR


class UsageError(NapComposeError):
    """A malformed command line: bad option values, unknown services in arguments."""

    exit_status = ExitStatus.USAGE


class ConfigError(NapComposeError):
    """A compose file or cluster file that cannot be used as written."""

    exit_status = ExitStatus.CONFIG


class DependencyCycleError(ConfigError):
    """Services that depend on each other in a loop; ``cycle`` lists the names in order."""

    def __init__(self, cycle):
        self.cycle = tuple(cycle)
        super().__init__("dependency cycle: " + " -> ".join(self.cycle))


class StoreError(NapComposeError):
    """The address store (etcd or the file store) failed or is unreachable."""

    exit_status = ExitStatus.STORE


class IpamError(NapComposeError):
    """An address could not be reserved or released as asked."""

    exit_status = ExitStatus.IPAM


class PoolExhaustedError(IpamError):
    """No free address is left for a request; nothing of the request stays reserved."""


class AddressTakenError(IpamError):
    """A fixed address is already owned by someone else."""


class NotOwnerError(IpamError):
    """A release asked by someone who does not own the address."""


class AddressFencedError(IpamError):
    """An owner's address is bound to one host and was asked for on another without proof it left."""


class PlacementError(NapComposeError):
    """Replicas that no host can take under the constraints."""

    exit_status = ExitStatus.PLACEMENT


class HostError(NapComposeError):
    """A Docker host, its engine or its SSH server failed; ``host`` names it."""

    exit_status = ExitStatus.HOST

    def __init__(self, host, message):
        self.host = host
        super().__init__(f"{host}: {message}")


def without_host(host: str, text: str) -> str:
    """``text`` without the leading ``host: `` a HostError's message carries, for a line or a result
    that names the host already; any other text is returned as it is."""
    prefix = f"{host}: "
    return text[len(prefix):] if text.startswith(prefix) else text


class VolumeInUseError(HostError):
    """Docker refused to remove a volume because a container still uses it."""


class HostKeyError(HostError):
    """An SSH host key that is unknown or changed, refused on purpose."""


class LabError(NapComposeError):
    """The local lab could not be built, inspected or torn down."""

    exit_status = ExitStatus.LAB


class ProjectLockedError(NapComposeError):
    """Another command holds the project's lock (it is changing the project); the holder is named."""

    exit_status = 10


class LockLostError(ProjectLockedError):
    """The project's lock was taken over while this command held it (its lease was not renewed in time)."""


class LeadershipLostError(LockLostError):
    """The reconciler's leadership could not be confirmed (another leads, or the store did not answer):
    a run it started stops before its next step, as a run whose project lock was taken over does."""


class PartialFailure(NapComposeError):
    """Some actions of a run failed; the others completed. ``failures`` lists (subject, error)."""

    exit_status = ExitStatus.PARTIAL

    def __init__(self, summary, failures=()):
        self.failures = tuple(failures)
        lines = [summary] + [f"  {subject}: {error}" for subject, error in self.failures]
        super().__init__("\n".join(lines))
