"""`python -m flows.cli.main`: the `automl` command."""

from flows.cli.main.main import main

if __name__ == "__main__":
    main()
