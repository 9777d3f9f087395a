"""The one exception tree of nap-compose.

Every error's ``str()`` is the sentence the user reads: it names the file, service, host or address
involved. Each class carries the process exit status the CLI uses for it. Adapters translate SDK errors
into these classes at their edge (``raise HostError(...) from e``) so the core never matches SDK types.
"""


class NapComposeError(Exception):
    """Root of every error nap-compose raises on purpose."""

    exit_status = 1


class UsageError(NapComposeError):
    """A malformed command line: bad option values, unknown services in arguments."""

    exit_status = 2


class ConfigError(NapComposeError):
    """A compose file or cluster file that cannot be used as written."""

    exit_status = 3


class DependencyCycleError(ConfigError):
    """Services that depend on each other in a loop; ``cycle`` lists the names in order."""

    def __init__(self, cycle):
        self.cycle = tuple(cycle)
        super().__init__("dependency cycle: " + " -> ".join(self.cycle))


class StoreError(NapComposeError):
    """The address store (etcd or the file store) failed or is unreachable."""

    exit_status = 4


class IpamError(NapComposeError):
    """An address could not be reserved or released as asked."""

    exit_status = 5


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

    exit_status = 6


class HostError(NapComposeError):
    """A Docker host, its engine or its SSH server failed; ``host`` names it."""

    exit_status = 7

    def __init__(self, host, message):
        self.host = host
        super().__init__(f"{host}: {message}")


class HostKeyError(HostError):
    """An SSH host key that is unknown or changed, refused on purpose."""


class LabError(NapComposeError):
    """The local lab could not be built, inspected or torn down."""

    exit_status = 9


class ProjectLockedError(NapComposeError):
    """Another command holds the project's lock (it is changing the project); the holder is named."""

    exit_status = 10


class LockLostError(ProjectLockedError):
    """The project's lock was taken over while this command held it (its lease was not renewed in time)."""


class PartialFailure(NapComposeError):
    """Some actions of a run failed; the others completed. ``failures`` lists (subject, error)."""

    exit_status = 8

    def __init__(self, summary, failures=()):
        self.failures = tuple(failures)
        lines = [summary] + [f"  {subject}: {error}" for subject, error in self.failures]
        super().__init__("\n".join(lines))
