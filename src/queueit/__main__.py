from queueit.cli import main

raise SystemExit(main())
