"""Real implementations of the ports: docker-py, python-etcd, a JSON file store, paramiko.

SDK exceptions stop here: each adapter raises nap-compose errors ``from`` the SDK's.
"""

import sys as _sys


def _import_paramiko_without_invoke() -> None:
    """Import paramiko (docker-py imports it too) without the task runner ``invoke``.

    paramiko.config imports invoke, when installed, only to run ``Match exec`` lines of an OpenSSH
    config file; nap-compose never reads one through paramiko, and loading invoke (which pulls in
    asyncio and unittest.mock) costs a quarter to half a second of every command on a busy machine.
    paramiko is imported here as if invoke were absent; a later ``import invoke`` works as usual.
    """
    if "paramiko" in _sys.modules or "invoke" in _sys.modules:
        return
    _sys.modules["invoke"] = None  # makes `import invoke` raise ImportError, which paramiko expects
    try:
        import paramiko  # noqa: F401
    finally:
        if _sys.modules.get("invoke", 0) is None:
            del _sys.modules["invoke"]


_import_paramiko_without_invoke()
