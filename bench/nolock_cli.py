"""nap-compose's command line with the project lock taken out, for bench_up.py --lock-cost only.

The benchmark compares `up` with and without the lock in the same run; the product itself has no
way to skip the lock.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import napcompose.cli.project_cmd as project_cmd  # noqa: E402
from napcompose.cli import main  # noqa: E402


class _NoLock:
    def release(self) -> None:
        pass


project_cmd.hold_project_lock = lambda *args, **kwargs: _NoLock()

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
