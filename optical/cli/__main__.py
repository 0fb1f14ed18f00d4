import sys

from optical.cli import main

sys.exit(main())
