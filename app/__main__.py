"""`python -m app` runs the same thing as the `phidesk` command."""

from app.main import main

if __name__ == "__main__":
    raise SystemExit(main())
