"""The frozen app's entry point: the same `phidesk` command the wheel installs."""

from app.main import entry_point

if __name__ == "__main__":
    entry_point()
