"""`python -m forecaster ...` (and `torchrun -m forecaster ...`) run the CLI."""

from forecaster.cli import main

if __name__ == "__main__":
    main()
