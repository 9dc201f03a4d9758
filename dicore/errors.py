"""Errors shared across dicore's edges."""


class UserError(Exception):
    """An error the user can fix: the CLI prints it as one line plus a hint and exits 2.

    Messages name the file, row and field at fault where there is one.
    """

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def check_output_file(path, flag: str) -> None:
    """Refuse, before any work, an output file path that cannot be written.

    A path that is a folder, or one below an existing file, raises `UserError` naming the flag.
    """
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path} is a folder, not a file", hint=f"give {flag} a file name")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(
                    f"{flag} {path}: {parent} is a file, not a folder",
                    hint=f"check the {flag} path",
                )
            break
