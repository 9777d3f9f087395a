import sys

from napcompose.cli import main

sys.exit(main())
