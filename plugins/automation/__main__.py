import sys

from automation.cli.main import main

sys.exit(main())
