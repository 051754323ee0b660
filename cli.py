"""`python cli.py ...` from a checkout runs the same app as the installed `forecaster` command."""

from forecaster.cli import main

if __name__ == "__main__":
    main()
